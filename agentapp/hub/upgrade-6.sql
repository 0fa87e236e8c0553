-- The agentapp hub, schema 5 → 6 (docs/hub.md, "Upgrading a hub"). Applied after schema.sql
-- by `agentapp hub init`, and to a schema-5 hub by `agentapp hub upgrade`, in one transaction
-- with the version's change, by a role that may act as agentapp_owner.
--
-- A training document's sealed part is read through the hub, which traces each read: no
-- login selects it any more (the trainee and the trainers keep the metadata of their rows),
-- so a read the client does not say still leaves its line on the trail.

SET ROLE agentapp_owner;
SET search_path = agentapp, pg_temp;

-- one document's sealed part for the trainers of its training or its own trainee, the read
-- traced with the reader's reason; NULL (and "document refused" traced) for anyone else or
-- for no such document: the same answer, so that a login learns nothing of others' rows
CREATE FUNCTION read_document(p_id bigint, p_reason text) RETURNS bytea
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
    RETURN NULL;
  END IF;
  PERFORM _append('hub', 0, '', '', me(), 'document read', d.recording_id,
                  d.kind || ' ' || p_id || ': ' || why);
  PERFORM _chain();
  RETURN d.sealed;
END $$;

REVOKE EXECUTE ON FUNCTION read_document(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION read_document(bigint, text) TO agentapp_agent, agentapp_trainer;
REVOKE SELECT ON training_docs FROM agentapp_agent, agentapp_trainer;
GRANT SELECT (id, kind, recording_id, agent, training, author, written_at, purge_after)
  ON training_docs TO agentapp_agent, agentapp_trainer;

RESET ROLE;
