-- The audit API filters by actor, action, target and time, newest first (keyset on seq):
-- one index per filter, each ending in seq so the walk stays ordered.
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_at ON audit_log (at, seq);
