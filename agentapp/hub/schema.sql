-- The agentapp hub, schema 1 (docs/hub.md). Applied in one transaction by `agentapp hub init`
-- (trial) or `agentapp hub schema` (production), by a role that may create roles; applying it
-- again is refused once hub_settings holds a schema version.
--
-- Who may do what is the database's to enforce, not only the application's:
-- * no application role owns anything: agentapp_owner (NOLOGIN) owns the tables and the
--   SECURITY DEFINER functions, and every table has row-level security with FORCE;
-- * every person and every desk logs in as their own role (SCRAM over TLS), a member of one of
--   agentapp_desk, agentapp_agent, agentapp_trainer, agentapp_dpo, agentapp_admin; the rows'
--   "who" is session_user, which a client cannot choose;
-- * the audit trail is written only through _append (a hash chain computed here, under a lock),
--   never updated, deleted or truncated (no grant, and triggers that refuse even its owner).

DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['agentapp_owner', 'agentapp_desk', 'agentapp_agent',
                           'agentapp_trainer', 'agentapp_dpo', 'agentapp_admin'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END $$;

CREATE SCHEMA agentapp AUTHORIZATION agentapp_owner;
REVOKE ALL ON SCHEMA agentapp FROM PUBLIC;
GRANT USAGE ON SCHEMA agentapp
  TO agentapp_desk, agentapp_agent, agentapp_trainer, agentapp_dpo, agentapp_admin;
SET ROLE agentapp_owner;
SET search_path = agentapp, pg_temp;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;  -- (not per schema: see docs)

CREATE TABLE hub_settings (key text PRIMARY KEY, value text NOT NULL);

-- the database's logins and whom they are: an agent's name as the policy spells it, a
-- trainer's name, a desk's host name
CREATE TABLE people (
  db_role name PRIMARY KEY,
  person text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('desk', 'agent', 'trainer', 'dpo', 'admin'))
);

CREATE TABLE policy_versions (
  version int PRIMARY KEY,
  digest text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by name NOT NULL DEFAULT session_user
);

CREATE TABLE enrolments (
  agent text PRIMARY KEY,
  training text NOT NULL,
  starts date NOT NULL,
  ends date NOT NULL,
  weekly_quota int NOT NULL CHECK (weekly_quota >= 0),
  version int NOT NULL REFERENCES policy_versions
);

CREATE TABLE trainer_trainings (
  trainer text NOT NULL,
  training text NOT NULL,
  PRIMARY KEY (trainer, training)
);

-- one row per recording slot taken at off-hook (R6): the week's count is these rows
CREATE TABLE reservations (
  recording_id text PRIMARY KEY,
  agent text NOT NULL,
  week date NOT NULL,
  desk name NOT NULL DEFAULT session_user,
  at timestamptz NOT NULL DEFAULT now(),
  released timestamptz
);
CREATE INDEX reservations_week ON reservations (agent, week) WHERE released IS NULL;

-- metadata per R13; the video stays sealed (ciphertext for the site's recording key)
CREATE TABLE recordings (
  id text PRIMARY KEY,
  agent text NOT NULL,
  training text NOT NULL,
  desk name NOT NULL DEFAULT session_user,
  started_at timestamptz NOT NULL,
  purge_after timestamptz NOT NULL,
  status text NOT NULL,
  duration_s double precision NOT NULL,
  segments int NOT NULL,
  size_bytes bigint NOT NULL,
  meta jsonb NOT NULL,
  shipped_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_agent ON recordings (agent, started_at);
CREATE INDEX recordings_training ON recordings (training, started_at);
CREATE INDEX recordings_purge ON recordings (purge_after);

CREATE TABLE segments (
  recording_id text NOT NULL REFERENCES recordings ON DELETE CASCADE,
  name text NOT NULL,
  data bytea NOT NULL,
  sha256 text NOT NULL CHECK (sha256 = encode(sha256(data), 'hex')),
  PRIMARY KEY (recording_id, name)
);

-- a trainer's note, sealed by the client for the site's recording key like the video (the
-- hub, its DBA and its backups never hold the text); it goes with its recording
CREATE TABLE notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recording_id text NOT NULL REFERENCES recordings ON DELETE CASCADE,
  at_s double precision CHECK (at_s >= 0),  -- the moment it is about; NULL: the whole call
  sealed bytea NOT NULL CHECK (length(sealed) BETWEEN 1 AND 200000),
  author name NOT NULL DEFAULT session_user,
  written_at timestamptz NOT NULL DEFAULT now()
);

-- the trail (R8): seq has no gaps; hash = sha256 of the fields and the previous hash
CREATE TABLE audit (
  seq bigint PRIMARY KEY,
  at timestamptz NOT NULL,
  db_user name NOT NULL,
  source text NOT NULL,
  local_seq int NOT NULL,
  local_hash text NOT NULL,
  local_at text NOT NULL,
  who text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  reason text NOT NULL,
  prev text NOT NULL,
  hash text NOT NULL
);
CREATE UNIQUE INDEX audit_shipped ON audit (db_user, source, local_seq) WHERE local_seq > 0;

CREATE FUNCTION _refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION _refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION _refuse_change();

-- ------------------------------------------------------------------ who is asking
CREATE FUNCTION me() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = agentapp, pg_temp AS $$
  SELECT person FROM people WHERE db_role = session_user
$$;
CREATE FUNCTION my_kind() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = agentapp, pg_temp AS $$
  SELECT kind FROM people WHERE db_role = session_user
$$;
CREATE FUNCTION my_trainings() RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = agentapp, pg_temp AS $$
  SELECT t.training FROM trainer_trainings t JOIN people p ON p.person = t.trainer
   WHERE p.db_role = session_user AND p.kind = 'trainer'
$$;
CREATE FUNCTION _today() RETURNS date LANGUAGE sql STABLE
  SET search_path = agentapp, pg_temp AS $$
  SELECT (now() AT TIME ZONE (SELECT value FROM hub_settings WHERE key = 'timezone'))::date
$$;
CREATE FUNCTION _as(kind text) RETURNS void LANGUAGE plpgsql STABLE
  SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF my_kind() IS DISTINCT FROM kind THEN
    RAISE EXCEPTION 'the hub knows % as no %', session_user, kind
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

-- ------------------------------------------------------------------ row-level security
ALTER TABLE hub_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrolments ENABLE ROW LEVEL SECURITY;
ALTER TABLE trainer_trainings ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE recordings ENABLE ROW LEVEL SECURITY;
ALTER TABLE segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE hub_settings FORCE ROW LEVEL SECURITY;
ALTER TABLE policy_versions FORCE ROW LEVEL SECURITY;
ALTER TABLE enrolments FORCE ROW LEVEL SECURITY;
ALTER TABLE trainer_trainings FORCE ROW LEVEL SECURITY;
ALTER TABLE reservations FORCE ROW LEVEL SECURITY;
ALTER TABLE recordings FORCE ROW LEVEL SECURITY;
ALTER TABLE segments FORCE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
ALTER TABLE audit FORCE ROW LEVEL SECURITY;
-- people is read by the definer functions above (owner, no FORCE): a policy on it that called
-- them would recurse

-- the owner (the definer functions) sees and writes every row
CREATE POLICY owner_all ON hub_settings TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON policy_versions TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON enrolments TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON trainer_trainings TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON reservations TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON recordings TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON segments TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON notes TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON audit TO agentapp_owner USING (true) WITH CHECK (true);

-- an agent: their own; a trainer: their trainings'; the DPO and IT: every recording's metadata
CREATE POLICY agent_own ON recordings FOR SELECT TO agentapp_agent USING (agent = me());
CREATE POLICY trainer_theirs ON recordings FOR SELECT TO agentapp_trainer
  USING (training IN (SELECT my_trainings()));
CREATE POLICY dpo_all ON recordings FOR SELECT TO agentapp_dpo, agentapp_admin USING (true);
CREATE POLICY desk_shipped ON recordings FOR SELECT TO agentapp_desk USING (desk = session_user);
-- the video (sealed): only who may watch it; never the DPO's or IT's roles (no grant either)
CREATE POLICY watchers ON segments FOR SELECT TO agentapp_agent, agentapp_trainer
  USING (recording_id IN (SELECT id FROM recordings));
CREATE POLICY readers ON notes FOR SELECT TO agentapp_agent, agentapp_trainer
  USING (recording_id IN (SELECT id FROM recordings));
CREATE POLICY trainer_writes ON notes FOR INSERT TO agentapp_trainer
  WITH CHECK (author = session_user AND recording_id IN (SELECT id FROM recordings));
CREATE POLICY dpo_reads ON audit FOR SELECT TO agentapp_dpo, agentapp_admin USING (true);
CREATE POLICY everyone ON policy_versions FOR SELECT
  TO agentapp_desk, agentapp_trainer, agentapp_dpo, agentapp_admin USING (true);
CREATE POLICY everyone ON enrolments FOR SELECT
  TO agentapp_desk, agentapp_trainer, agentapp_dpo, agentapp_admin USING (true);
CREATE POLICY agent_own ON enrolments FOR SELECT TO agentapp_agent USING (agent = me());
CREATE POLICY everyone ON trainer_trainings FOR SELECT
  TO agentapp_trainer, agentapp_dpo, agentapp_admin USING (true);

GRANT SELECT ON recordings TO agentapp_desk, agentapp_agent, agentapp_trainer, agentapp_dpo,
  agentapp_admin;
GRANT SELECT ON segments TO agentapp_agent, agentapp_trainer;
GRANT SELECT ON notes TO agentapp_agent, agentapp_trainer;
GRANT INSERT (recording_id, at_s, sealed) ON notes TO agentapp_trainer;
GRANT SELECT ON audit TO agentapp_dpo, agentapp_admin;
GRANT SELECT ON policy_versions, enrolments TO agentapp_desk, agentapp_agent, agentapp_trainer,
  agentapp_dpo, agentapp_admin;
GRANT SELECT ON trainer_trainings TO agentapp_trainer, agentapp_dpo, agentapp_admin;

-- ------------------------------------------------------------------ the trail
CREATE FUNCTION audit_hash(seq bigint, at timestamptz, db_user name, source text, local_seq int,
                           local_hash text, local_at text, who text, action text, target text,
                           reason text, prev text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = agentapp, pg_temp AS $$
  SELECT encode(sha256(convert_to(concat_ws(chr(31), seq::text,
    ((extract(epoch FROM at) * 1000000)::bigint)::text, db_user::text, source,
    local_seq::text, local_hash, local_at, who, action, target, reason, prev), 'UTF8')), 'hex')
$$;

CREATE FUNCTION _append(p_source text, p_local_seq int, p_local_hash text, p_local_at text,
                        p_who text, p_action text, p_target text, p_reason text) RETURNS bigint
  LANGUAGE plpgsql SET search_path = agentapp, pg_temp AS $$
DECLARE
  last record;
  n bigint;
  t timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(7406001);  -- one writer of the chain at a time
  SELECT seq, hash INTO last FROM audit ORDER BY seq DESC LIMIT 1;
  n := coalesce(last.seq, 0) + 1;
  t := date_trunc('milliseconds', clock_timestamp());
  INSERT INTO audit VALUES (n, t, session_user, p_source, p_local_seq, p_local_hash, p_local_at,
    p_who, p_action, p_target, p_reason, coalesce(last.hash, repeat('0', 64)),
    audit_hash(n, t, session_user, p_source, p_local_seq, p_local_hash, p_local_at, p_who,
               p_action, p_target, p_reason, coalesce(last.hash, repeat('0', 64))));
  RETURN n;
END $$;

-- a person's act (console, CLI): the who is the database's name for them, not a claim
CREATE FUNCTION audit_append(p_action text, p_target text, p_reason text) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF me() IS NULL THEN
    RAISE EXCEPTION 'the hub does not know %', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN _append('hub', 0, '', '', me(), p_action, p_target, p_reason);
END $$;

-- a desk's local trail, entry by entry in order; a rewritten or missing local entry is traced
CREATE FUNCTION ship_audit(p_source text, p_local_seq int, p_local_hash text, p_local_at text,
                           p_who text, p_action text, p_target text, p_reason text)
  RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  known text;
  last int;
BEGIN
  IF my_kind() IS DISTINCT FROM 'desk' AND my_kind() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only a desk ships its trail (or IT imports a site folder''s)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT local_hash INTO known FROM audit
   WHERE db_user = session_user AND source = p_source AND local_seq = p_local_seq;
  IF FOUND THEN
    IF known = p_local_hash THEN
      RETURN 'known';
    END IF;
    IF EXISTS (SELECT FROM audit WHERE db_user = session_user AND source = p_source
               AND action = 'desk trail rewritten' AND target = p_local_seq::text
               AND local_hash = p_local_hash) THEN
      RETURN 'conflict';  -- recorded once
    END IF;
    PERFORM _append(p_source, 0, p_local_hash, p_local_at, p_who, 'desk trail rewritten',
                    p_local_seq::text, 'this entry was shipped before with another hash');
    RETURN 'conflict';
  END IF;
  SELECT max(local_seq) INTO last FROM audit WHERE db_user = session_user AND source = p_source;
  IF p_local_seq <> coalesce(last, 0) + 1 THEN
    PERFORM _append(p_source, 0, '', p_local_at, p_who, 'desk trail gap', p_local_seq::text,
                    format('entries %s to %s never reached the hub', coalesce(last, 0) + 1,
                           p_local_seq - 1));
  END IF;
  PERFORM _append(p_source, p_local_seq, p_local_hash, p_local_at, p_who, p_action, p_target,
                  p_reason);
  RETURN 'stored';
END $$;

-- a round of a desk's trail in one call: the chain's lock is held for the server's work and
-- the commit only, never across the desk's round trips. The commit does not wait for the disk
-- (synchronous_commit off, this transaction only): the desk keeps its trail and sends again
-- whatever a crash of the hub lost (shipped_head says what the hub holds), so the chain's lock
-- is not held for an fsync per desk
CREATE FUNCTION ship_audit_batch(p_source text, p_entries jsonb) RETURNS text[]
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  e jsonb;
  out text[] := '{}';
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR e IN SELECT value FROM jsonb_array_elements(p_entries) WITH ORDINALITY ORDER BY ordinality
  LOOP
    out := out || ship_audit(p_source, (e->>'seq')::int, e->>'hash', e->>'at', e->>'who',
                             e->>'action', e->>'target', e->>'reason');
  END LOOP;
  RETURN out;
END $$;

-- the last entry of this desk's trail that the hub holds: what `audit verify` trusts
CREATE FUNCTION shipped_head(p_source text, OUT local_seq int, OUT local_hash text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
  SELECT a.local_seq, a.local_hash FROM audit a
   WHERE a.db_user = session_user AND a.source = p_source AND a.local_seq > 0
   ORDER BY a.local_seq DESC LIMIT 1
$$;

-- ------------------------------------------------------------------ the weekly quota (R6)
CREATE FUNCTION reserve_slot(p_recording text, p_agent text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  e enrolments%ROWTYPE;
  today date := _today();
  wk date;
  used int;
  holder name;
BEGIN
  PERFORM _as('desk');
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'reserve_slot counts under READ COMMITTED only';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('agentapp quota ' || p_agent, 0));
  SELECT desk INTO holder FROM reservations WHERE recording_id = p_recording;
  IF FOUND THEN
    RETURN CASE WHEN holder = session_user THEN 'reserved' ELSE 'refused: id taken' END;
  END IF;
  SELECT * INTO e FROM enrolments WHERE agent = p_agent;
  IF NOT FOUND THEN
    RETURN 'not enrolled';
  ELSIF today < e.starts THEN
    RETURN 'enrolment not started';
  ELSIF today > e.ends THEN
    RETURN 'enrolment ended';
  END IF;
  wk := date_trunc('week', today)::date;
  SELECT count(*) INTO used FROM reservations
   WHERE agent = p_agent AND week = wk AND released IS NULL;
  IF used >= e.weekly_quota THEN
    RETURN 'quota reached';
  END IF;
  INSERT INTO reservations (recording_id, agent, week) VALUES (p_recording, p_agent, wk);
  RETURN 'reserved';
END $$;

-- a slot given back: the recording was discarded before anything was kept, or withdrawn
CREATE FUNCTION release_slot(p_recording text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _as('desk');
  UPDATE reservations SET released = now()
   WHERE recording_id = p_recording AND desk = session_user AND released IS NULL
     AND NOT EXISTS (SELECT FROM recordings WHERE id = p_recording);
  RETURN FOUND;
END $$;

CREATE FUNCTION week_used(p_agent text) RETURNS int
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
  SELECT count(*)::int FROM reservations
   WHERE agent = p_agent AND week = date_trunc('week', _today())::date AND released IS NULL
$$;

-- ------------------------------------------------------------------ recordings
-- a desk ships a sealed recording it reserved: the row and its segments in one transaction
CREATE FUNCTION ship_recording(p_meta jsonb) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  r reservations%ROWTYPE;
  owner name;
BEGIN
  PERFORM _as('desk');
  SELECT desk INTO owner FROM recordings WHERE id = p_meta->>'id';
  IF FOUND THEN
    RETURN CASE WHEN owner = session_user THEN 'known' ELSE 'refused: id taken' END;
  END IF;
  SELECT * INTO r FROM reservations WHERE recording_id = p_meta->>'id';
  IF NOT FOUND OR r.desk <> session_user OR r.agent <> p_meta->>'agent' THEN
    RETURN 'refused: no reservation';
  END IF;
  INSERT INTO recordings (id, agent, training, started_at, purge_after, status, duration_s,
                          segments, size_bytes, meta)
  VALUES (p_meta->>'id', p_meta->>'agent', coalesce(p_meta->>'training', ''),
          to_timestamp((p_meta->>'started_at')::double precision),
          to_timestamp((p_meta->>'purge_after')::double precision), p_meta->>'status',
          coalesce((p_meta->>'duration_s')::double precision, 0),
          coalesce((p_meta->>'segments')::int, 0), coalesce((p_meta->>'size_bytes')::bigint, 0),
          p_meta);
  RETURN 'stored';
END $$;

CREATE FUNCTION ship_segment(p_recording text, p_name text, p_data bytea, p_sha256 text)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _as('desk');
  IF NOT EXISTS (SELECT FROM recordings WHERE id = p_recording AND desk = session_user
                 AND shipped_at = now()) THEN  -- only in the transaction that shipped its row
    RAISE EXCEPTION 'segment for a recording not being shipped: %', p_recording
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO segments VALUES (p_recording, p_name, p_data, p_sha256);
END $$;

-- the caller objected right after the call: the desk that shipped it takes it back (R10)
CREATE FUNCTION withdraw_recording(p_recording text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE a text;
BEGIN
  PERFORM _as('desk');
  DELETE FROM recordings WHERE id = p_recording AND desk = session_user
     AND shipped_at > now() - interval '1 hour' RETURNING agent INTO a;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE reservations SET released = now() WHERE recording_id = p_recording;
  PERFORM _append('hub', 0, '', '', a, 'recording withdrawn', p_recording,
                  'the caller objected: erased at the hub');
  RETURN true;
END $$;

-- an erasure request (the DPO, IT): the recording and its video, traced
CREATE FUNCTION erase_recording(p_recording text, p_reason text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF my_kind() NOT IN ('dpo', 'admin') OR length(trim(p_reason)) < 5 THEN
    RAISE EXCEPTION 'erasing a recording needs the DPO or IT, and a reason'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  DELETE FROM recordings WHERE id = p_recording;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM _append('hub', 0, '', '', me(), 'recording deleted', p_recording, p_reason);
  RETURN true;
END $$;

-- retention (R11): every recording past its deadline, rows and video, each traced
CREATE FUNCTION purge_expired() RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  r record;
  n int := 0;
BEGIN
  IF my_kind() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'the purge runs as IT''s hub login' USING ERRCODE = 'insufficient_privilege';
  END IF;
  FOR r IN DELETE FROM recordings WHERE purge_after <= now() RETURNING id, agent LOOP
    PERFORM _append('hub', 0, '', '', r.agent, 'recording purged', r.id,
                    'retention deadline passed');
    n := n + 1;
  END LOOP;
  DELETE FROM reservations WHERE week < date_trunc('week', _today())::date - 14;
  RETURN n;
END $$;

-- ------------------------------------------------------------------ the policy
-- IT publishes the site policy's enrolments and trainers (never an older version)
CREATE FUNCTION publish_policy(p_version int, p_digest text, p_enrolments jsonb,
                               p_trainers jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF my_kind() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only IT''s hub login publishes the policy'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_version <= coalesce((SELECT max(version) FROM policy_versions), 0) THEN
    RAISE EXCEPTION 'policy version % is not newer than the hub''s', p_version
      USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO policy_versions (version, digest) VALUES (p_version, p_digest);
  DELETE FROM enrolments;
  INSERT INTO enrolments
  SELECT e->>'agent', e->>'training', (e->>'start')::date, (e->>'end')::date,
         (e->>'weekly_quota')::int, p_version
    FROM jsonb_array_elements(p_enrolments) e;
  DELETE FROM trainer_trainings;
  INSERT INTO trainer_trainings
  SELECT DISTINCT t->>'name', x FROM jsonb_array_elements(p_trainers) t,
         jsonb_array_elements_text(t->'trainings') x;
  PERFORM _append('hub', 0, '', '', me(), 'policy published', p_version::text, p_digest);
END $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA agentapp FROM PUBLIC;
GRANT EXECUTE ON FUNCTION me(), my_kind(), my_trainings() TO agentapp_desk, agentapp_agent,
  agentapp_trainer, agentapp_dpo, agentapp_admin;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text) TO agentapp_agent, agentapp_trainer,
  agentapp_dpo, agentapp_admin;
GRANT EXECUTE ON FUNCTION ship_audit(text, int, text, text, text, text, text, text),
  ship_audit_batch(text, jsonb), shipped_head(text), reserve_slot(text, text), release_slot(text), week_used(text),
  ship_recording(jsonb), ship_segment(text, text, bytea, text), withdraw_recording(text)
  TO agentapp_desk;
GRANT EXECUTE ON FUNCTION erase_recording(text, text) TO agentapp_dpo, agentapp_admin;
GRANT EXECUTE ON FUNCTION ship_audit(text, int, text, text, text, text, text, text),
  ship_audit_batch(text, jsonb) TO agentapp_admin;  -- a site folder's trails, imported
GRANT EXECUTE ON FUNCTION purge_expired(), publish_policy(int, text, jsonb, jsonb)
  TO agentapp_admin;

RESET ROLE;
