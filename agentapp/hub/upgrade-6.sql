-- The agentapp hub, schema 5 → 6 (docs/hub.md, "Upgrading a hub"). Applied after schema.sql
-- by `agentapp hub init`, and to a schema-5 hub by `agentapp hub upgrade`, in one transaction
-- with the version's change, by a role that may act as agentapp_owner (hub/schema.py).
--
-- A training document's sealed part is read through the hub, which traces each read: no
-- login selects it any more (the trainee and the trainers keep the metadata of their rows),
-- so a read the client does not say still leaves its line on the trail.
--
-- A coaching record is given to its own trainee: the trainer's client makes a slip that opens
-- it for the key the trainee registered (the site's key never leaves the trainer's desk), and
-- the hub keeps it beside the record; `read_document` then answers the trainee with the
-- sealed record and its slip. Only a coaching record is given: an analysis or a self-review
-- stays the trainers' (the record copies in what was shared at the session).

SET ROLE agentapp_owner;
SET search_path = agentapp, pg_temp;

ALTER TABLE training_docs ADD COLUMN slip bytea
  CHECK (slip IS NULL OR length(slip) BETWEEN 2 AND 4000);

-- a coaching record given to its trainee by a trainer of its training, for the key the
-- trainee registered (the client made the slip for it); traced
CREATE FUNCTION give_document(p_id bigint, p_slip bytea) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  d training_docs%ROWTYPE;
BEGIN
  PERFORM _as('trainer');
  SELECT * INTO d FROM training_docs WHERE id = p_id AND training IN (SELECT my_trainings());
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no document % of your trainings', p_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF d.kind <> 'coaching' THEN
    RAISE EXCEPTION 'only a coaching record is given to its trainee (document % is a %)',
      p_id, d.kind USING ERRCODE = 'check_violation';
  END IF;
  IF NOT EXISTS (SELECT FROM people_keys WHERE person = d.agent) THEN
    RAISE EXCEPTION '% has no key at the hub yet (their desk registers it at first use)',
      d.agent USING ERRCODE = 'no_data_found';
  END IF;
  UPDATE training_docs SET slip = p_slip WHERE id = p_id;
  PERFORM _append('hub', 0, '', '', d.agent, 'coaching record given', d.recording_id,
                  'document ' || p_id || ' to ' || d.agent);
  PERFORM _chain();
END $$;

-- one document, its sealed part and its slip (for what was given to its trainee), for the
-- trainers of its training or its own trainee, the read traced with the reader's reason; no
-- row (and "document refused" traced) for anyone else or for no such document: the same
-- answer, so that a login learns nothing of others' rows
CREATE FUNCTION read_document(p_id bigint, p_reason text) RETURNS SETOF training_docs
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  d training_docs%ROWTYPE;
  why text := _bounded(p_reason, 'a reason', 400);
BEGIN
  IF me() IS NULL THEN
    RAISE EXCEPTION 'the hub does not know %', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO d FROM training_docs WHERE id = p_id
    AND ((my_kind() = 'agent' AND agent = me())
         OR (my_kind() = 'trainer' AND training IN (SELECT my_trainings())));
  IF NOT FOUND THEN
    PERFORM _append('hub', 0, '', '', me(), 'document refused', 'document ' || p_id, why);
    PERFORM _chain();
    RETURN;
  END IF;
  PERFORM _append('hub', 0, '', '', me(), 'document read', d.recording_id,
                  d.kind || ' ' || p_id || ': ' || why);
  PERFORM _chain();
  RETURN NEXT d;
END $$;

REVOKE EXECUTE ON FUNCTION read_document(bigint, text), give_document(bigint, bytea)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION read_document(bigint, text) TO agentapp_agent, agentapp_trainer;
GRANT EXECUTE ON FUNCTION give_document(bigint, bytea) TO agentapp_trainer;
REVOKE SELECT ON training_docs FROM agentapp_agent, agentapp_trainer;
GRANT SELECT (id, kind, recording_id, agent, training, author, written_at, purge_after)
  ON training_docs TO agentapp_agent, agentapp_trainer;

RESET ROLE;
