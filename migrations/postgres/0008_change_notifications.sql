-- Replicas learn of each other's changes from PostgreSQL's notifications:
-- every statement that changes what a page shows notifies the channel
-- `authwatch_changes` with its table's name, delivered to every listening
-- replica when the transaction commits (and only then). The dashboard's live
-- updates and the API-key cache listen. (SQLite's 0008 converts its flags to
-- integers instead: PostgreSQL's flags are BOOLEAN already.)

CREATE FUNCTION authwatch_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authwatch_changes', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_changed AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();
CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();
CREATE TRIGGER prompts_changed AFTER INSERT OR UPDATE ON prompts
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();
CREATE TRIGGER posts_changed AFTER INSERT OR UPDATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();
CREATE TRIGGER reconnect_links_changed AFTER INSERT OR UPDATE ON reconnect_links
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION authwatch_notify_change();

-- The pipeline API keeps an account's current token in memory for a moment;
-- a replica that refreshed it says which account, so the others drop theirs
-- at once (channel `authwatch_tokens`, the account id).
CREATE FUNCTION authwatch_notify_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authwatch_tokens', NEW.account_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER token_sets_changed AFTER INSERT OR UPDATE ON token_sets
    FOR EACH ROW EXECUTE FUNCTION authwatch_notify_tokens();
