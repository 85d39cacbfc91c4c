//! Reading configuration: what stops start-up, and with which variable named.

use super::*;
use crate::server::secret::Secret;
fn addr() -> SocketAddr {
    "127.0.0.1:3000".parse().unwrap()
}

#[test]
fn nothing_configured_stops_and_names_both_ways_out() {
    let err = Config::load(&Vars::of(&[("UNRELATED", "x")]), addr(), Overrides::default()).unwrap_err();
    assert_eq!(err.var, "AUTHWATCH_X_CLIENT_ID");
    let message = err.to_string();
    assert!(message.contains("AUTHWATCH_DEMO=1") && message.contains("--demo"), "{message}");
    assert!(message.contains("AUTHWATCH_X_CLIENT_SECRET"), "{message}");
}

#[test]
fn demo_mode_by_choice_with_local_defaults() {
    for (vars, demo_flag) in [(&[("AUTHWATCH_DEMO", "1")][..], false), (&[][..], true)] {
        let overrides = Overrides { demo: demo_flag, ..Overrides::default() };
        let c = Config::load(&Vars::of(vars), addr(), overrides).unwrap();
        assert!(c.is_demo());
        assert_eq!(c.environment, "demo");
        assert_eq!(c.database_url(), "sqlite://data/demo.db");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
    }
}

#[test]
fn demo_mode_refuses_what_would_make_it_dangerous() {
    let demo = |extra: &[(&'static str, &'static str)], site: &str| {
        // The first value of a name wins: `extra` may override the flag itself.
        let mut vars = extra.to_vec();
        vars.push(("AUTHWATCH_DEMO", "1"));
        Config::load(&Vars::of(&vars), site.parse().unwrap(), Overrides::default()).map(|_| ())
    };
    let var = |r: Result<(), ConfigError>| r.unwrap_err().var;
    assert_eq!(
        var(demo(&[("AUTHWATCH_DATABASE_URL", "sqlite://data/authwatch.db")], "127.0.0.1:3000")),
        "AUTHWATCH_DATABASE_URL"
    );
    assert_eq!(var(demo(&[("AUTHWATCH_ENVIRONMENT", "Production")], "127.0.0.1:3000")), "AUTHWATCH_ENVIRONMENT");
    assert_eq!(var(demo(&[], "0.0.0.0:3000")), "LEPTOS_SITE_ADDR");
    assert_eq!(var(demo(&[], "192.0.2.10:3000")), "LEPTOS_SITE_ADDR");
    assert_eq!(var(demo(&[("AUTHWATCH_X_CLIENT_ID", "abc")], "127.0.0.1:3000")), "AUTHWATCH_DEMO");
    assert_eq!(var(demo(&[("AUTHWATCH_DEMO", "maybe")], "127.0.0.1:3000")), "AUTHWATCH_DEMO");
    assert!(demo(&[("AUTHWATCH_ENVIRONMENT", "staging")], "[::1]:3000").is_ok());
}

#[test]
fn a_live_app_gets_x_endpoints_and_the_hosted_callback() {
    let c = Config::load(
        &Vars::of(&[
            ("AUTHWATCH_X_CLIENT_ID", "abc"),
            ("AUTHWATCH_X_CLIENT_SECRET", "s3cret"),
            ("AUTHWATCH_PUBLIC_URL", "https://authwatch.example.com/ops"),
        ]),
        addr(),
        Overrides::default(),
    )
    .unwrap();
    let XMode::Live(app) = c.x else { panic!("expected live mode") };
    assert_eq!(app.callback_url.as_str(), "https://authwatch.example.com/ops/auth/x/callback");
    assert_eq!(app.endpoints.token_url.as_str(), "https://api.x.com/2/oauth2/token");
    assert_eq!(app.required_scopes.to_string(), "offline.access tweet.read tweet.write users.read");
    assert_eq!(format!("{:?}", app.client_secret), "Some([redacted])");
}

#[test]
fn errors_name_the_variable() {
    let cases: [(&[(&str, &str)], &str); 14] = [
        (&[("AUTHWATCH_DAILY_CHECK_AT", "25:00")], "AUTHWATCH_DAILY_CHECK_AT"),
        (&[("AUTHWATCH_REFRESH_LEAD_SECS", "soon")], "AUTHWATCH_REFRESH_LEAD_SECS"),
        (&[("AUTHWATCH_X_CLIENT_ID", "abc")], "AUTHWATCH_X_CLIENT_SECRET"),
        (&[("AUTHWATCH_X_CLIENT_ID", "a"), ("AUTHWATCH_X_CLIENT_TYPE", "web")], "AUTHWATCH_X_CLIENT_TYPE"),
        (
            &[
                ("AUTHWATCH_X_CLIENT_ID", "a"),
                ("AUTHWATCH_X_CLIENT_TYPE", "public"),
                ("AUTHWATCH_X_TOKEN_URL", "not a url"),
            ],
            "AUTHWATCH_X_TOKEN_URL",
        ),
        (
            &[
                ("AUTHWATCH_X_CLIENT_ID", "a"),
                ("AUTHWATCH_X_CLIENT_TYPE", "public"),
                ("AUTHWATCH_X_REQUIRED_SCOPES", "tweet.read tweets.write"),
            ],
            "AUTHWATCH_X_REQUIRED_SCOPES",
        ),
        (&[("AUTHWATCH_DATABASE_URL", "mysql://x")], "AUTHWATCH_DATABASE_URL"),
        (&[("AUTHWATCH_DATABASE_URL", "postgres://db.internal/authwatch")], "AUTHWATCH_DATABASE_URL"),
        (
            &[
                ("AUTHWATCH_X_CLIENT_ID", "a"),
                ("AUTHWATCH_X_CLIENT_TYPE", "public"),
                ("AUTHWATCH_DATABASE_URL", "postgres://db.internal/authwatch"),
            ],
            "AUTHWATCH_ENCRYPTION_KEY",
        ),
        (&[("AUTHWATCH_WEBHOOK_URL", "https://hooks.example/x")], "AUTHWATCH_WEBHOOK_SECRET"),
        (&[("AUTHWATCH_SMTP_URL", "smtp://localhost:25")], "AUTHWATCH_SMTP_FROM"),
        (&[("AUTHWATCH_SMTP_URL", "imap://localhost")], "AUTHWATCH_SMTP_URL"),
        (&[("AUTHWATCH_ESCALATE_AFTER_SECS", "4h")], "AUTHWATCH_ESCALATE_AFTER_SECS"),
        (&[("AUTHWATCH_FORWARDED_FOR_HOPS", "many")], "AUTHWATCH_FORWARDED_FOR_HOPS"),
    ];
    for (vars, var) in cases {
        // Demo mode stands in for an X app where the case configures none.
        let mut vars = vars.to_vec();
        if !vars.iter().any(|(k, _)| *k == "AUTHWATCH_X_CLIENT_ID") {
            vars.push(("AUTHWATCH_DEMO", "1"));
        }
        let src = Vars::of(&vars);
        let err = Config::load(&src, addr(), Overrides::default()).unwrap_err();
        assert_eq!(err.var, var, "{err}");
        assert!(err.to_string().starts_with(var));
    }
}

#[test]
fn unset_variables_leave_the_settings_defaults_and_set_ones_override_them() {
    use crate::domain::health::Policy;
    use crate::server::config::EngineSettings;
    let c = Config::load(&Vars::of(&[("AUTHWATCH_DEMO", "1")]), addr(), Overrides::default()).unwrap();
    assert_eq!(c.engine, EngineSettings::default());
    assert_eq!(c.policy, Policy::default());
    assert_eq!(c.x_timeout, crate::server::config::DEFAULT_TIMEOUT);
    let set = [
        ("AUTHWATCH_DEMO", "1"),
        ("AUTHWATCH_SWEEP_INTERVAL_SECS", "7"),
        ("AUTHWATCH_REFRESH_CONCURRENCY", "9"),
        ("AUTHWATCH_DAILY_CHECK_AT", "05:30"),
        ("AUTHWATCH_PROOF_OF_LIFE_SECS", "60"),
        ("AUTHWATCH_X_TIMEOUT_SECS", "4"),
        ("AUTHWATCH_REFRESH_LEAD_SECS", "120"),
        ("AUTHWATCH_CLOCK_DRIFT_THRESHOLD_SECS", "5"),
    ];
    let c = Config::load(&Vars::of(&set), addr(), Overrides::default()).unwrap();
    let expected = EngineSettings {
        sweep_every: Duration::from_secs(7),
        concurrency: 9,
        daily_check_at_minute: 5 * 60 + 30,
        proof_of_life: Duration::from_secs(60),
        lease: Duration::from_secs(8),
        ..EngineSettings::default()
    };
    assert_eq!(c.engine, expected);
    assert_eq!(c.policy, Policy { refresh_lead_ms: 120_000, clock_drift_threshold_ms: 5_000 });
}

#[test]
fn live_streams_are_capped_at_a_thousand_unless_set_and_garbage_stops_start_up() {
    let load = |value: Option<&str>| {
        let mut vars = vec![("AUTHWATCH_DEMO", "1")];
        vars.extend(value.map(|v| ("AUTHWATCH_LIVE_STREAMS_MAX", v)));
        Config::load(&Vars::of(&vars), addr(), Overrides::default())
    };
    assert_eq!(load(None).unwrap().live_streams_max, 1000);
    assert_eq!(load(Some("")).unwrap().live_streams_max, 1000, "empty is unset");
    assert_eq!(load(Some(" 25 ")).unwrap().live_streams_max, 25);
    assert_eq!(load(Some("0")).unwrap().live_streams_max, 0, "0 turns live updates off");
    assert_eq!(load(Some("100000")).unwrap().live_streams_max, 100_000);
    for garbage in ["-1", "lots", "1e3", "10.5", "100001", "18446744073709551616", "0x10", "1000 streams"] {
        let err = load(Some(garbage)).unwrap_err();
        assert_eq!(err.var, "AUTHWATCH_LIVE_STREAMS_MAX", "{garbage}: {err}");
        assert!(err.to_string().contains(garbage), "the error quotes the value: {err}");
    }
}

#[test]
fn oauth1_is_offered_with_both_consumer_variables_and_refused_with_one() {
    let live = |extra: &[(&'static str, &'static str)]| {
        let mut vars = vec![
            ("AUTHWATCH_X_CLIENT_ID", "abc"),
            ("AUTHWATCH_X_CLIENT_SECRET", "s3cret"),
            ("AUTHWATCH_PUBLIC_URL", "https://authwatch.example.com/ops"),
        ];
        vars.extend_from_slice(extra);
        Config::load(&Vars::of(&vars), addr(), Overrides::default())
    };
    let app = |c: Config| match c.x {
        XMode::Live(app) => *app,
        XMode::Demo => panic!("a live app"),
    };
    assert!(app(live(&[]).unwrap()).oauth1.is_none(), "not offered unless configured");
    let o = app(live(&[("AUTHWATCH_X_CONSUMER_KEY", "ck"), ("AUTHWATCH_X_CONSUMER_SECRET", "cs")]).unwrap())
        .oauth1
        .expect("offered");
    assert_eq!(o.callback_url.as_str(), "https://authwatch.example.com/ops/auth/x1/callback");
    assert_eq!(o.request_token_url.as_str(), "https://api.x.com/oauth/request_token");
    assert_eq!(o.authorize_url.as_str(), "https://api.x.com/oauth/authorize");
    assert_eq!(o.verify_credentials_url.as_str(), "https://api.x.com/1.1/account/verify_credentials.json");
    assert_eq!(format!("{:?}", o.consumer_secret), format!("{:?}", Secret::new("anything")), "the secret never prints");
    // One without the other stops start-up, naming the missing one.
    assert_eq!(live(&[("AUTHWATCH_X_CONSUMER_KEY", "ck")]).unwrap_err().var, "AUTHWATCH_X_CONSUMER_SECRET");
    assert_eq!(live(&[("AUTHWATCH_X_CONSUMER_SECRET", "cs")]).unwrap_err().var, "AUTHWATCH_X_CONSUMER_KEY");
    let elsewhere = app(live(&[
        ("AUTHWATCH_X_CONSUMER_KEY", "ck"),
        ("AUTHWATCH_X_CONSUMER_SECRET", "cs"),
        ("AUTHWATCH_X_OAUTH1_BASE", "http://127.0.0.1:9999/x"),
    ])
    .unwrap())
    .oauth1
    .unwrap();
    assert_eq!(elsewhere.access_token_url.as_str(), "http://127.0.0.1:9999/x/oauth/access_token");
}
