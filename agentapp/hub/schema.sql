-- The agentapp hub, schema 5 (docs/hub.md), and the upgrade-N.sql files after it (hub/schema.py).
-- Applied in one transaction by `agentapp hub init` (trial) or by psql (production, docs/hub.md),
-- by a role that may create roles; applying it again is refused once the schema exists.
--
-- Who may do what is the database's to enforce, not only the application's:
-- * no application role owns anything: agentapp_owner (NOLOGIN) owns the tables and the
--   SECURITY DEFINER functions, and every table has row-level security with FORCE;
-- * every person and every desk logs in as their own role (SCRAM over TLS), a member of one of
--   agentapp_desk, agentapp_agent, agentapp_trainer, agentapp_dpo, agentapp_admin; the rows'
--   "who" is session_user, which a client cannot choose;
-- * the audit trail is written only through _append (a hash chain computed here, under a lock),
--   never updated, deleted or truncated (no grant, and triggers that refuse even its owner);
-- * nothing a desk sends is believed as it is: ids and names have one form, every text and
--   blob a bound, a recording's training and deadline are the hub's own (its enrolment and
--   its clock), and no login can hold a lock that another waits on (advisory locks are the
--   owner's alone; the quota skips a slot someone holds; the trail's chain never waits).

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
-- advisory locks belong to the hub's functions alone: a login that could take the key a
-- function takes could make every desk wait (this database only; the superuser applies it)
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT oid::regprocedure FROM pg_proc WHERE proname ~ '^pg_(try_)?advisory_' LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO agentapp_owner', f);
  END LOOP;
END $$;

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

-- the forms of names that become paths on people's machines (agentapp/core/names.py)
CREATE DOMAIN recording_id AS text
  CONSTRAINT "a recording id is YYYYMMDDTHHMMSSZ- and 8 hex digits"
  CHECK (VALUE ~ '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$');
CREATE DOMAIN segment_name AS text
  CONSTRAINT "a segment is named seg-NNNNNN.seal or voice-attached.seal"
  CHECK (VALUE ~ '^(seg-[0-9]{6}[.]seal|voice-attached[.]seal)$');
-- a trail's texts: the desks' own trails cut them at 500 characters (vault/audit.py)
CREATE DOMAIN trail_text AS text
  CONSTRAINT "a trail text has at most 500 characters" CHECK (length(VALUE) <= 500);
CREATE DOMAIN short_name AS text
  CONSTRAINT "a name has 1 to 200 characters" CHECK (length(VALUE) BETWEEN 1 AND 200);

CREATE TABLE policy_versions (
  version int PRIMARY KEY,
  digest text NOT NULL,
  -- what a recording reserved under this version is kept (R9): at most 183 days, up to
  -- 1096 under a declared derogation
  retention_days int NOT NULL CHECK (retention_days BETWEEN 1 AND 1096),
  derogation text NOT NULL DEFAULT '' CHECK (length(derogation) <= 500),
  CHECK (retention_days <= 183 OR derogation <> ''),
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
-- (the hub's own record of the call: its clock, the agent's training and the retention then)
CREATE TABLE reservations (
  recording_id recording_id PRIMARY KEY,
  agent short_name NOT NULL,
  week date NOT NULL,
  slot int NOT NULL CHECK (slot >= 1),
  training text NOT NULL,
  retention_days int NOT NULL,
  desk name NOT NULL DEFAULT session_user,
  at timestamptz NOT NULL DEFAULT now(),
  released timestamptz
);
CREATE UNIQUE INDEX reservations_slot ON reservations (agent, week, slot) WHERE released IS NULL;

-- metadata per R13; the video stays sealed (ciphertext for the site's recording key)
-- (segments and size_bytes are the hub's count of what arrived; meta is the desk's, at most
-- 64 KiB, kept as information)
CREATE TABLE recordings (
  id recording_id PRIMARY KEY,
  agent short_name NOT NULL,
  training short_name NOT NULL,
  desk name NOT NULL DEFAULT session_user,
  started_at timestamptz NOT NULL,
  purge_after timestamptz NOT NULL CHECK (purge_after <= started_at + interval '1096 days'),
  status text NOT NULL CHECK (status IN ('complete', 'interrupted')),
  duration_s double precision NOT NULL CHECK (duration_s BETWEEN 0 AND 86400),
  segments int NOT NULL,
  size_bytes bigint NOT NULL,
  meta jsonb NOT NULL CHECK (octet_length(meta::text) <= 65536),
  shipped_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_agent ON recordings (agent, started_at);
CREATE INDEX recordings_training ON recordings (training, started_at);
CREATE INDEX recordings_purge ON recordings (purge_after);

CREATE TABLE segments (
  recording_id recording_id NOT NULL REFERENCES recordings ON DELETE CASCADE,
  name segment_name NOT NULL,
  -- a segment holds segment_seconds (at most 600) of one window's video: far under 64 MiB
  data bytea NOT NULL CHECK (length(data) <= 67108864),
  sha256 text NOT NULL CHECK (sha256 = encode(sha256(data), 'hex')),
  PRIMARY KEY (recording_id, name)
);

-- a trainer's note, sealed by the client for the site's recording key like the video (the
-- hub, its DBA and its backups never hold the text); it goes with its recording
CREATE TABLE notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recording_id recording_id NOT NULL REFERENCES recordings ON DELETE CASCADE,
  at_s double precision CHECK (at_s BETWEEN 0 AND 86400),  -- the moment it is about; NULL: the whole call
  sealed bytea NOT NULL CHECK (length(sealed) BETWEEN 1 AND 200000),
  author name NOT NULL DEFAULT session_user,
  written_at timestamptz NOT NULL DEFAULT now()
);

-- the trail (R8): seq has no gaps; hash = sha256 of the fields and the previous hash; `at`
-- is the hub's clock, `local_at` the desk's (information only)
CREATE TABLE audit (
  seq bigint PRIMARY KEY,
  at timestamptz NOT NULL,
  db_user name NOT NULL,
  source trail_text NOT NULL,
  local_seq int NOT NULL,
  local_hash trail_text NOT NULL,
  local_at trail_text NOT NULL,
  who trail_text NOT NULL,
  action trail_text NOT NULL,
  target trail_text NOT NULL,
  reason trail_text NOT NULL,
  prev text NOT NULL,
  hash text NOT NULL
);
CREATE UNIQUE INDEX audit_shipped ON audit (db_user, source, local_seq) WHERE local_seq > 0;

-- entries written but not chained yet. Writers only insert here (no lock, no wait); whoever
-- finds the chain free chains everything committed (_chain). A login that keeps its
-- transaction open while it holds the chain delays the chaining, never a write.
CREATE TABLE audit_inbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  db_user name NOT NULL,
  source trail_text NOT NULL,
  local_seq int NOT NULL,
  local_hash trail_text NOT NULL,
  local_at trail_text NOT NULL,
  who trail_text NOT NULL,
  action trail_text NOT NULL,
  target trail_text NOT NULL,
  reason trail_text NOT NULL
);
CREATE UNIQUE INDEX inbox_shipped ON audit_inbox (db_user, source, local_seq)
  WHERE local_seq > 0;

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
ALTER TABLE audit_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_inbox FORCE ROW LEVEL SECURITY;
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
CREATE POLICY owner_all ON audit_inbox TO agentapp_owner USING (true) WITH CHECK (true);

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
CREATE POLICY dpo_reads ON audit_inbox FOR SELECT TO agentapp_dpo, agentapp_admin USING (true);
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
GRANT SELECT ON audit, audit_inbox TO agentapp_dpo, agentapp_admin;
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

-- a text from a client, refused (never cut) when over its bound
CREATE FUNCTION _bounded(p_value text, p_what text, p_max int) RETURNS text
  LANGUAGE plpgsql IMMUTABLE SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF length(p_value) > p_max THEN
    RAISE EXCEPTION '% has % characters, more than %', p_what, length(p_value), p_max
      USING ERRCODE = 'string_data_right_truncation';
  END IF;
  RETURN coalesce(p_value, '');
END $$;

-- an entry, written at once and chained by _chain (the caller calls it once at its end)
CREATE FUNCTION _append(p_source text, p_local_seq int, p_local_hash text, p_local_at text,
                        p_who text, p_action text, p_target text, p_reason text) RETURNS bigint
  LANGUAGE plpgsql SET search_path = agentapp, pg_temp AS $$
DECLARE n bigint;
BEGIN
  INSERT INTO audit_inbox (at, db_user, source, local_seq, local_hash, local_at, who, action,
                           target, reason)
  VALUES (date_trunc('milliseconds', clock_timestamp()), session_user,
          _bounded(p_source, 'the trail''s name', 500), p_local_seq,
          _bounded(p_local_hash, 'an entry''s hash', 500),
          _bounded(p_local_at, 'an entry''s time', 500), _bounded(p_who, 'who', 500),
          _bounded(p_action, 'the action', 500), _bounded(p_target, 'the target', 500),
          _bounded(p_reason, 'the reason', 500))
  RETURNING id INTO n;
  RETURN n;
END $$;

-- every committed entry of the inbox onto the chain, in the order they were written, when
-- nobody else is chaining (a try-lock: never waits); returns how many it chained
CREATE FUNCTION _chain() RETURNS int
  LANGUAGE plpgsql SET search_path = agentapp, pg_temp AS $$
DECLARE
  last record;
  p audit_inbox%ROWTYPE;
  n bigint;
  prev text;
  h text;
  done int := 0;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7406001) THEN
    RETURN 0;
  END IF;
  SELECT seq, hash INTO last FROM audit ORDER BY seq DESC LIMIT 1;
  n := coalesce(last.seq, 0);
  prev := coalesce(last.hash, repeat('0', 64));
  FOR p IN SELECT * FROM audit_inbox ORDER BY id LOOP
    n := n + 1;
    h := audit_hash(n, p.at, p.db_user, p.source, p.local_seq, p.local_hash, p.local_at, p.who,
                    p.action, p.target, p.reason, prev);
    INSERT INTO audit VALUES (n, p.at, p.db_user, p.source, p.local_seq, p.local_hash,
      p.local_at, p.who, p.action, p.target, p.reason, prev, h);
    prev := h;
    DELETE FROM audit_inbox WHERE id = p.id;
    done := done + 1;
  END LOOP;
  RETURN done;
END $$;

-- the DPO's or IT's check starts with whatever waits in the inbox
CREATE FUNCTION chain_pending() RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF my_kind() NOT IN ('dpo', 'admin') THEN
    RAISE EXCEPTION 'only the DPO or IT checks the trail' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN _chain();
END $$;

-- a person's act (console, CLI): the who is the database's name for them, not a claim
CREATE FUNCTION audit_append(p_action text, p_target text, p_reason text) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE n bigint;
BEGIN
  IF me() IS NULL THEN
    RAISE EXCEPTION 'the hub does not know %', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  n := _append('hub', 0, '', '', me(), p_action, p_target, p_reason);
  PERFORM _chain();
  RETURN n;
END $$;

-- every entry written, chained or not yet
CREATE VIEW trail_entries AS
  SELECT db_user, source, local_seq, local_hash, action, target FROM audit
  UNION ALL
  SELECT db_user, source, local_seq, local_hash, action, target FROM audit_inbox;

-- a desk's local trail, entry by entry in order; a rewritten or missing local entry is traced
CREATE FUNCTION _ship_one(p_source text, p_local_seq int, p_local_hash text, p_local_at text,
                          p_who text, p_action text, p_target text, p_reason text)
  RETURNS text LANGUAGE plpgsql SET search_path = agentapp, pg_temp AS $$
DECLARE
  known text;
  last int;
BEGIN
  IF p_local_seq IS NULL OR p_local_seq < 1 THEN
    RAISE EXCEPTION 'a shipped entry is numbered from 1' USING ERRCODE = 'check_violation';
  END IF;
  SELECT local_hash INTO known FROM trail_entries
   WHERE db_user = session_user AND source = p_source AND local_seq = p_local_seq;
  IF FOUND THEN
    IF known = p_local_hash THEN
      RETURN 'known';
    END IF;
    IF EXISTS (SELECT FROM trail_entries WHERE db_user = session_user AND source = p_source
               AND action = 'desk trail rewritten' AND target = p_local_seq::text
               AND local_hash = p_local_hash) THEN
      RETURN 'conflict';  -- recorded once
    END IF;
    PERFORM _append(p_source, 0, p_local_hash, p_local_at, p_who, 'desk trail rewritten',
                    p_local_seq::text, 'this entry was shipped before with another hash');
    RETURN 'conflict';
  END IF;
  SELECT max(local_seq) INTO last FROM trail_entries
   WHERE db_user = session_user AND source = p_source;
  IF p_local_seq <> coalesce(last, 0) + 1 THEN
    PERFORM _append(p_source, 0, '', p_local_at, p_who, 'desk trail gap', p_local_seq::text,
                    format('entries %s to %s never reached the hub', coalesce(last, 0) + 1,
                           p_local_seq - 1));
  END IF;
  PERFORM _append(p_source, p_local_seq, p_local_hash, p_local_at, p_who, p_action, p_target,
                  p_reason);
  RETURN 'stored';
END $$;

CREATE FUNCTION _may_ship_trail() RETURNS void LANGUAGE plpgsql STABLE
  SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF my_kind() IS DISTINCT FROM 'desk' AND my_kind() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only a desk ships its trail (or IT imports a site folder''s)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

CREATE FUNCTION ship_audit(p_source text, p_local_seq int, p_local_hash text, p_local_at text,
                           p_who text, p_action text, p_target text, p_reason text)
  RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE answer text;
BEGIN
  PERFORM _may_ship_trail();
  answer := _ship_one(p_source, p_local_seq, p_local_hash, p_local_at, p_who, p_action,
                      p_target, p_reason);
  PERFORM _chain();
  RETURN answer;
END $$;

-- a round of a desk's trail in one call (at most 500 entries, 2 MB): no lock is held across
-- the desk's round trips, and writing never waits for the chain. The commit does not wait for
-- the disk (synchronous_commit off, this transaction only): the desk keeps its trail and
-- sends again whatever a crash of the hub lost (shipped_head says what the hub holds)
CREATE FUNCTION ship_audit_batch(p_source text, p_entries jsonb) RETURNS text[]
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  e jsonb;
  out text[] := '{}';
BEGIN
  PERFORM _may_ship_trail();
  IF jsonb_typeof(p_entries) IS DISTINCT FROM 'array' OR jsonb_array_length(p_entries) > 500
     OR octet_length(p_entries::text) > 2000000 THEN
    RAISE EXCEPTION 'a round ships an array of at most 500 entries and 2 MB'
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR e IN SELECT value FROM jsonb_array_elements(p_entries) WITH ORDINALITY ORDER BY ordinality
  LOOP
    out := out || _ship_one(p_source, (e->>'seq')::int, e->>'hash', e->>'at', e->>'who',
                            e->>'action', e->>'target', e->>'reason');
  END LOOP;
  PERFORM _chain();
  RETURN out;
END $$;

-- the last entry of this desk's trail that the hub holds: what `audit verify` trusts
CREATE FUNCTION shipped_head(p_source text, OUT local_seq int, OUT local_hash text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
  SELECT a.local_seq, a.local_hash FROM trail_entries a
   WHERE a.db_user = session_user AND a.source = p_source AND a.local_seq > 0
   ORDER BY a.local_seq DESC LIMIT 1
$$;

-- ------------------------------------------------------------------ the trail's checkpoints
-- A desk writes the chain's head into its own signed trail after each round it shipped
-- (hub/link.py), so that a later edit of the chain up to that entry, even one with every
-- hash recomputed, or the removal of its last entries, is seen by the desk's `audit verify`.
-- The row kept here per desk trail is written so that the commit waits for the disk: an entry
-- a desk holds as a checkpoint is one a crash of the hub's server cannot lose (the rounds
-- commit without waiting, ship_audit_batch).
CREATE TABLE checkpoints (
  db_user name NOT NULL,
  source trail_text NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (db_user, source)
);
ALTER TABLE checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON checkpoints TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY dpo_reads ON checkpoints FOR SELECT TO agentapp_dpo, agentapp_admin USING (true);
GRANT SELECT ON checkpoints TO agentapp_dpo, agentapp_admin;

CREATE FUNCTION trail_head(p_source text, OUT seq bigint, OUT hash text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _may_ship_trail();
  PERFORM _chain();
  SELECT a.seq, a.hash INTO seq, hash FROM audit a ORDER BY a.seq DESC LIMIT 1;
  IF seq IS NOT NULL THEN
    PERFORM set_config('synchronous_commit', 'on', true);
    INSERT INTO checkpoints VALUES (session_user, _bounded(p_source, 'the trail''s name', 500),
                                    seq, hash, now())
    ON CONFLICT (db_user, source) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash,
                                                at = EXCLUDED.at;
  END IF;
END $$;

-- the hashes the chain holds now at the entries a desk took as checkpoints (at most 1000)
CREATE FUNCTION trail_hashes(p_seqs bigint[]) RETURNS TABLE (seq bigint, hash text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _may_ship_trail();
  IF cardinality(p_seqs) > 1000 THEN
    RAISE EXCEPTION 'at most 1000 checkpoints a call' USING ERRCODE = 'program_limit_exceeded';
  END IF;
  RETURN QUERY SELECT a.seq, a.hash FROM audit a WHERE a.seq = ANY (p_seqs);
END $$;

-- ------------------------------------------------------------------ the weekly quota (R6)
-- The week's slots are numbered 1..quota; a reservation takes the first free one it can
-- try-lock. A slot another transaction holds (a reservation in flight, or a login that keeps
-- its transaction open) is skipped, never waited for: the count stays exact (the unique index
-- on live slots) and nobody can make a desk wait past its 1 s.
CREATE FUNCTION reserve_slot(p_recording text, p_agent text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  e enrolments%ROWTYPE;
  today date := _today();
  wk date;
  taken int[];
  holder name;
  keep int;
BEGIN
  PERFORM _as('desk');
  IF p_recording IS NULL OR p_recording !~ '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$' THEN
    RETURN 'refused: not a recording id';
  END IF;
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
  SELECT retention_days INTO keep FROM policy_versions WHERE version = e.version;
  wk := date_trunc('week', today)::date;
  SELECT coalesce(array_agg(slot), '{}') INTO taken FROM reservations
   WHERE agent = p_agent AND week = wk AND released IS NULL;
  FOR n IN 1 .. e.weekly_quota LOOP
    CONTINUE WHEN n = ANY (taken);
    CONTINUE WHEN NOT pg_try_advisory_xact_lock(
      hashtextextended(format('agentapp slot %s %s %s', p_agent, wk, n), 0));
    CONTINUE WHEN EXISTS (SELECT FROM reservations WHERE agent = p_agent AND week = wk
                          AND slot = n AND released IS NULL);  -- taken since: a new snapshot
    INSERT INTO reservations (recording_id, agent, week, slot, training, retention_days)
    VALUES (p_recording, p_agent, wk, n, e.training, keep);
    RETURN 'reserved';
  END LOOP;
  RETURN 'quota reached';
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
-- how far a desk's clock may be from the hub's (its start against the hub's reservation)
CREATE FUNCTION clock_skew() RETURNS interval LANGUAGE sql IMMUTABLE AS $$
  SELECT interval '5 minutes'
$$;

-- a refusal of what a desk shipped, traced once (the desk keeps the recording sealed and
-- sends it again each round)
CREATE FUNCTION _refuse(p_recording text, p_agent text, p_why text) RETURNS text
  LANGUAGE plpgsql SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM trail_entries WHERE action = 'recording refused'
                 AND target = p_recording AND db_user = session_user) THEN
    PERFORM _append('hub', 0, '', '', p_agent, 'recording refused', p_recording, p_why);
    PERFORM _chain();
  END IF;
  RETURN 'refused: ' || p_why;
END $$;

-- a desk ships a sealed recording it reserved: the row and its segments in one transaction.
-- The hub decides what it believes: the training is the agent's enrolment at the
-- reservation, the start must agree with the hub's clock then, the deadline is the hub's
-- (the start plus the retention published then); the desk's metadata is kept beside them.
CREATE FUNCTION ship_recording(p_meta jsonb) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  r reservations%ROWTYPE;
  owner name;
  rid text := p_meta->>'id';
  started timestamptz;
  deadline timestamptz;
  took double precision;
BEGIN
  PERFORM _as('desk');
  IF jsonb_typeof(p_meta) IS DISTINCT FROM 'object' OR octet_length(p_meta::text) > 65536 THEN
    RAISE EXCEPTION 'a recording''s metadata is a JSON object of at most 64 KiB'
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF rid IS NULL OR rid !~ '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$' THEN
    RETURN 'refused: not a recording id';
  END IF;
  SELECT desk INTO owner FROM recordings WHERE id = rid;
  IF FOUND THEN
    RETURN CASE WHEN owner = session_user THEN 'known' ELSE 'refused: id taken' END;
  END IF;
  SELECT * INTO r FROM reservations WHERE recording_id = rid;
  IF NOT FOUND OR r.desk <> session_user OR r.agent IS DISTINCT FROM p_meta->>'agent' THEN
    RETURN 'refused: no reservation';
  END IF;
  IF coalesce(p_meta->>'training', '') <> r.training THEN
    RETURN _refuse(rid, r.agent, format('labelled training %s; the hub enrolled %s in %s',
                   left(coalesce(p_meta->>'training', ''), 200), r.agent, r.training));
  END IF;
  BEGIN
    started := to_timestamp((p_meta->>'started_at')::double precision);
    took := coalesce((p_meta->>'duration_s')::double precision, 0);
  EXCEPTION WHEN others THEN
    RETURN _refuse(rid, r.agent, 'its start or duration is not a number');
  END;
  IF started IS NULL OR started NOT BETWEEN r.at - clock_skew() AND r.at + clock_skew() THEN
    RETURN _refuse(rid, r.agent, format('it says it started at %s; the hub reserved it at %s',
                                        started, r.at));
  END IF;
  IF took < 0 OR started + make_interval(secs => took) > now() + clock_skew() THEN
    RETURN _refuse(rid, r.agent, format('a call of %s s that started at %s ends after now',
                                        took, started));
  END IF;
  deadline := least(started, r.at) + make_interval(days => r.retention_days);
  INSERT INTO recordings (id, agent, training, started_at, purge_after, status, duration_s,
                          segments, size_bytes, meta)
  VALUES (rid, r.agent, r.training, started, deadline,
          CASE WHEN p_meta->>'status' = 'interrupted' THEN 'interrupted' ELSE 'complete' END,
          took, 0, 0,
          p_meta || jsonb_build_object('purge_after', extract(epoch FROM deadline),
                                       'training', r.training));
  RETURN 'stored';
END $$;

CREATE FUNCTION ship_segment(p_recording text, p_name text, p_data bytea, p_sha256 text)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _as('desk');
  IF NOT EXISTS (SELECT FROM recordings WHERE id = p_recording AND desk = session_user
                 AND shipped_at = now()) THEN  -- only in the transaction that shipped its row
    RAISE EXCEPTION 'segment for a recording not being shipped: %', left(p_recording, 40)
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO segments VALUES (p_recording, p_name, p_data, p_sha256);
  UPDATE recordings SET segments = segments + (p_name LIKE 'seg-%')::int,
                        size_bytes = size_bytes + length(p_data)
   WHERE id = p_recording;
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
  PERFORM _chain();
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
  PERFORM _bounded(p_reason, 'the reason', 500);
  DELETE FROM recordings WHERE id = p_recording;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM _append('hub', 0, '', '', me(), 'recording deleted', p_recording, p_reason);
  PERFORM _chain();
  RETURN true;
END $$;

-- retention (R9): every recording past its deadline, rows and video, and every training
-- document a year after its writing, each traced; returns how many recordings went. One that
-- someone holds (a note being written on it) is skipped, not waited for: the next run takes it
CREATE FUNCTION purge_expired(OUT recordings int, OUT documents int)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  r record;
BEGIN
  recordings := 0;
  documents := 0;
  IF my_kind() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'the purge runs as IT''s hub login' USING ERRCODE = 'insufficient_privilege';
  END IF;
  FOR r IN DELETE FROM recordings WHERE id IN (
             SELECT id FROM recordings WHERE purge_after <= now() FOR UPDATE SKIP LOCKED)
           RETURNING id, agent LOOP
    PERFORM _append('hub', 0, '', '', r.agent, 'recording purged', r.id,
                    'retention deadline passed');
    recordings := recordings + 1;
  END LOOP;
  FOR r IN DELETE FROM training_docs WHERE id IN (
             SELECT id FROM training_docs WHERE purge_after <= now() FOR UPDATE SKIP LOCKED)
           RETURNING id, kind, recording_id, agent LOOP
    PERFORM _append('hub', 0, '', '', r.agent, r.kind || ' purged', r.recording_id,
                    'document ' || r.id || ': a year after its writing');
    documents := documents + 1;
  END LOOP;
  PERFORM _chain();
  DELETE FROM reservations WHERE week < date_trunc('week', _today())::date - 14;
END $$;

-- ------------------------------------------------------------------ the policy
-- IT publishes the site policy's enrolments, trainers and retention (never an older version)
CREATE FUNCTION publish_policy(p_version int, p_digest text, p_enrolments jsonb,
                               p_trainers jsonb, p_retention_days int, p_derogation text)
  RETURNS void
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
  INSERT INTO policy_versions (version, digest, retention_days, derogation)
  VALUES (p_version, p_digest, p_retention_days, coalesce(p_derogation, ''));
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
  PERFORM _chain();
END $$;

-- ------------------------------------------------------------------ the training's documents
-- Written on a recording by the people of its training, sealed by their client for the site's
-- recording key (the hub, its DBA and its backups never hold the words): a trainer's analysis
-- on the grid, the trainee's own review of a recording shared with them, the coaching record
-- of the session. The hub fills in what it believes (R1, R7, R9): whose and which training
-- (the recording's row, never the client's word), who wrote it and when (its login, its
-- clock), and the deadline, a year from the writing. A document outlives the video (six
-- months): it names its recording but does not hang on its row.
CREATE TABLE training_docs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('analysis', 'self-review', 'coaching')),
  recording_id recording_id NOT NULL,
  agent short_name NOT NULL,
  training short_name NOT NULL,
  sealed bytea NOT NULL CHECK (length(sealed) BETWEEN 1 AND 200000),
  author name NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  purge_after timestamptz NOT NULL
);
CREATE INDEX training_docs_recording ON training_docs (recording_id);
CREATE INDEX training_docs_purge ON training_docs (purge_after);

-- a trainee's own key (the X25519 public half), registered by their own login; its private
-- half never leaves their desk's key store
CREATE TABLE people_keys (
  person short_name PRIMARY KEY,
  public_key bytea NOT NULL CHECK (length(public_key) = 32),
  registered_at timestamptz NOT NULL DEFAULT now()
);

-- a recording shared with its trainee: the slips that open its files for the trainee's key,
-- made by the trainer's client (at most 1 MB); it goes when withdrawn or with its recording
CREATE TABLE grants (
  recording_id recording_id NOT NULL REFERENCES recordings ON DELETE CASCADE,
  viewer short_name NOT NULL,
  training short_name NOT NULL,
  slips bytea NOT NULL CHECK (length(slips) BETWEEN 2 AND 1000000),
  granted_by name NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recording_id, viewer)
);

ALTER TABLE training_docs ENABLE ROW LEVEL SECURITY;
ALTER TABLE training_docs FORCE ROW LEVEL SECURITY;
ALTER TABLE people_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE grants FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON training_docs TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON people_keys TO agentapp_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON grants TO agentapp_owner USING (true) WITH CHECK (true);
-- the trainee: their own; the trainers: their trainings'; the DPO and IT: every row, without
-- its sealed part (the column grants below); a desk: nothing
CREATE POLICY agent_own ON training_docs FOR SELECT TO agentapp_agent USING (agent = me());
CREATE POLICY trainer_theirs ON training_docs FOR SELECT TO agentapp_trainer
  USING (training IN (SELECT my_trainings()));
CREATE POLICY dpo_all ON training_docs FOR SELECT TO agentapp_dpo, agentapp_admin USING (true);
CREATE POLICY viewer_own ON grants FOR SELECT TO agentapp_agent USING (viewer = me());
CREATE POLICY trainer_theirs ON grants FOR SELECT TO agentapp_trainer
  USING (training IN (SELECT my_trainings()));
CREATE POLICY dpo_all ON grants FOR SELECT TO agentapp_dpo, agentapp_admin USING (true);
CREATE POLICY agent_own ON people_keys FOR SELECT TO agentapp_agent USING (person = me());
CREATE POLICY others ON people_keys FOR SELECT TO agentapp_trainer, agentapp_dpo, agentapp_admin
  USING (true);
GRANT SELECT ON training_docs, grants, people_keys TO agentapp_agent, agentapp_trainer;
GRANT SELECT (id, kind, recording_id, agent, training, author, written_at, purge_after)
  ON training_docs TO agentapp_dpo, agentapp_admin;
GRANT SELECT (recording_id, viewer, training, granted_by, granted_at) ON grants
  TO agentapp_dpo, agentapp_admin;
GRANT SELECT ON people_keys TO agentapp_dpo, agentapp_admin;

CREATE FUNCTION _trains(p_training text) RETURNS void LANGUAGE plpgsql STABLE
  SET search_path = agentapp, pg_temp AS $$
BEGIN
  IF p_training IS NULL OR p_training NOT IN (SELECT my_trainings()) THEN
    RAISE EXCEPTION 'the hub knows % as no trainer of this recording''s training', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

-- a trainee's key, registered by themselves (a new key replaces the old, traced: what was
-- shared for the old one stays readable only with it)
CREATE FUNCTION register_key(p_key bytea) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _as('agent');
  INSERT INTO people_keys (person, public_key) VALUES (me(), p_key)
    ON CONFLICT (person) DO UPDATE SET public_key = excluded.public_key, registered_at = now()
    WHERE people_keys.public_key <> excluded.public_key;
  IF FOUND THEN
    PERFORM _append('hub', 0, '', '', me(), 'key registered', me(), encode(sha256(p_key), 'hex'));
    PERFORM _chain();
  END IF;
END $$;

-- a document on a recording: an analysis or a coaching record by a trainer of its training
-- (while its row is there, or on a recording they already wrote on, whose video has gone);
-- a self-review by the trainee it was shared with, while the grant holds
CREATE FUNCTION add_document(p_kind text, p_recording text, p_sealed bytea) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  who text;
  what text;
  doc bigint;
BEGIN
  IF p_kind = 'self-review' THEN
    PERFORM _as('agent');
    SELECT viewer, training INTO who, what FROM grants
     WHERE recording_id = p_recording AND viewer = me();
    IF NOT FOUND THEN
      RAISE EXCEPTION 'recording % is not shared with you', p_recording
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  ELSIF p_kind IN ('analysis', 'coaching') THEN
    PERFORM _as('trainer');
    SELECT agent, training INTO who, what FROM recordings WHERE id = p_recording;
    IF NOT FOUND THEN
      SELECT agent, training INTO who, what FROM training_docs
       WHERE recording_id = p_recording AND training IN (SELECT my_trainings()) LIMIT 1;
    END IF;
    PERFORM _trains(what);
  ELSE
    RAISE EXCEPTION 'a document is an analysis, a self-review or a coaching record'
      USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO training_docs (kind, recording_id, agent, training, sealed, author, purge_after)
  VALUES (p_kind, p_recording, who, what, p_sealed, session_user, now() + interval '1 year')
  RETURNING id INTO doc;
  PERFORM _append('hub', 0, '', '', who, p_kind || ' added', p_recording, 'document ' || doc);
  PERFORM _chain();
  RETURN doc;
END $$;

-- a recording shared with its trainee by a trainer of its training, for the key they
-- registered; the trainer's reason is traced with it
CREATE FUNCTION share_recording(p_recording text, p_viewer text, p_slips bytea, p_reason text)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
DECLARE
  r recordings%ROWTYPE;
BEGIN
  PERFORM _as('trainer');
  SELECT * INTO r FROM recordings WHERE id = p_recording;
  PERFORM _trains(r.training);
  IF r.agent IS DISTINCT FROM p_viewer THEN
    RAISE EXCEPTION 'a recording is shared with its own trainee only (this one is %''s)', r.agent
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT EXISTS (SELECT FROM people_keys WHERE person = p_viewer) THEN
    RAISE EXCEPTION '% has no key at the hub yet (their desk registers it at first use)',
      p_viewer USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO grants (recording_id, viewer, training, slips, granted_by)
  VALUES (p_recording, p_viewer, r.training, p_slips, session_user)
    ON CONFLICT (recording_id, viewer) DO UPDATE SET slips = excluded.slips,
      granted_by = excluded.granted_by, granted_at = now();
  PERFORM _append('hub', 0, '', '', p_viewer, 'recording shared', p_recording,
                  'with ' || p_viewer || ': ' || _bounded(p_reason, 'a reason', 400));
  PERFORM _chain();
END $$;

-- a grant withdrawn by a trainer of the recording's training; another training's grant is
-- answered as no grant at all (a trainer learns nothing of who else shared what)
CREATE FUNCTION withdraw_grant(p_recording text, p_viewer text, p_reason text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = agentapp, pg_temp AS $$
BEGIN
  PERFORM _as('trainer');
  PERFORM 1 FROM grants WHERE recording_id = p_recording AND viewer = p_viewer
    AND training IN (SELECT my_trainings());
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM grants WHERE recording_id = p_recording AND viewer = p_viewer;
  PERFORM _append('hub', 0, '', '', p_viewer, 'share withdrawn', p_recording,
                  'from ' || p_viewer || ': ' || _bounded(p_reason, 'a reason', 400));
  PERFORM _chain();
  RETURN true;
END $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA agentapp FROM PUBLIC;
GRANT EXECUTE ON FUNCTION me(), my_kind(), my_trainings() TO agentapp_desk, agentapp_agent,
  agentapp_trainer, agentapp_dpo, agentapp_admin;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text) TO agentapp_agent, agentapp_trainer,
  agentapp_dpo, agentapp_admin;
GRANT EXECUTE ON FUNCTION ship_audit(text, int, text, text, text, text, text, text),
  ship_audit_batch(text, jsonb), shipped_head(text), trail_head(text), trail_hashes(bigint[]),
  reserve_slot(text, text), release_slot(text), week_used(text),
  ship_recording(jsonb), ship_segment(text, text, bytea, text), withdraw_recording(text)
  TO agentapp_desk;
GRANT EXECUTE ON FUNCTION erase_recording(text, text), chain_pending()
  TO agentapp_dpo, agentapp_admin;
GRANT EXECUTE ON FUNCTION ship_audit(text, int, text, text, text, text, text, text),
  ship_audit_batch(text, jsonb) TO agentapp_admin;  -- a site folder's trails, imported
GRANT EXECUTE ON FUNCTION purge_expired(), publish_policy(int, text, jsonb, jsonb, int, text)
  TO agentapp_admin;
GRANT EXECUTE ON FUNCTION register_key(bytea), add_document(text, text, bytea) TO agentapp_agent;
GRANT EXECUTE ON FUNCTION add_document(text, text, bytea),
  share_recording(text, text, bytea, text), withdraw_grant(text, text, text) TO agentapp_trainer;

RESET ROLE;
