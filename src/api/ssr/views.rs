//! Builds the page DTOs from repository rows and the pure diagnosis.

use crate::api::dto::*;
use crate::domain::flow::{Flow, MOVE_TO_OAUTH2};
use crate::domain::health::{app_warnings, diagnose, AppWarning, Cause, Diagnosis, Health};
use crate::domain::scopes::{Scopes, PUBLISHING};
use crate::domain::verdict::{why, Deciding, WhyFacts};
use crate::server::config::XMode;
use crate::server::db::accounts::{self, AccountSummary};
use crate::server::db::events::{EventKind, Outcome};
use crate::server::db::users::User;
use crate::server::db::{apps, events};
use crate::server::x::now_ms;
use crate::server::AppState;

/// Rows per dashboard page.
pub const PAGE_SIZE: usize = 50;

/// The dashboard for `query`.
pub async fn dashboard(state: &AppState, query: &DashboardQuery, viewer: &User) -> Result<Dashboard, sqlx::Error> {
    let now = now_ms();
    let app = apps::facts(&state.pool, &state.x.app().client_id).await?;
    let required = &state.x.app().required_scopes;
    let entries = state.snapshot.get(&state.pool).await?;
    let mut diagnosed: Vec<(&AccountSummary, Diagnosis)> =
        entries.iter().map(|(s, facts)| (s, diagnose(facts, &app, required, now, &state.policy))).collect();

    let counts = Health::ALL
        .into_iter()
        .map(|health| HealthCount {
            health,
            count: diagnosed.iter().filter(|(_, d)| d.health == health).count() as u32,
        })
        .collect();
    let total = diagnosed.len() as u32;
    let flow_counts = Flow::ALL
        .into_iter()
        .map(|flow| FlowCount { flow, count: diagnosed.iter().filter(|(s, _)| s.flow == flow).count() as u32 })
        .collect();

    let filter = query.health.as_deref();
    let search = query.search.trim().to_lowercase();
    let search = search.trim_start_matches('@');
    let flow = query.flow.as_deref().and_then(Flow::parse);
    diagnosed.retain(|(s, d)| {
        let health_ok = match filter {
            None | Some("") | Some("all") => true,
            Some("needs-person") => d.health.needs_person(),
            Some(slug) => d.health.slug() == slug,
        };
        health_ok
            && flow.is_none_or(|f| s.flow == f)
            && (search.is_empty()
                || s.handle.to_lowercase().contains(search)
                || s.display_name.to_lowercase().contains(search))
    });
    // People's problems first, then the soonest to expire.
    diagnosed.sort_by(|(a, da), (b, db)| {
        (da.health.rank(), a.expires_at, &a.handle).cmp(&(db.health.rank(), b.expires_at, &b.handle))
    });
    let matching = diagnosed.len();
    let pages = matching.div_ceil(PAGE_SIZE).max(1) as u32;
    let page = query.page.clamp(1, pages);
    let rows = diagnosed
        .into_iter()
        .skip((page as usize - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|(s, d)| row(s, &d, required, viewer))
        .collect();
    let mut needs_you = super::people::needs_you(state, viewer, &entries).await?;
    let needs_you_total = needs_you.len() as u32;
    needs_you.truncate(crate::api::dto::NEEDS_YOU_SHOWN);
    let mut warnings = app_warnings(&app, &state.policy);
    let open = crate::server::db::prompts::open(&state.pool).await?;
    if let Some(i) = crate::server::notify::correlation(state, &entries, &open, now).await?.incident {
        warnings.push(x_incident_warning(&i));
    }
    Ok(Dashboard {
        needs_you,
        needs_you_total,
        now,
        total,
        counts,
        flow_counts,
        warnings,
        rows,
        matching: matching as u32,
        page,
        pages,
        demo_panel: state.config.is_demo() && viewer.role == crate::domain::access::Role::Admin,
    })
}

/// An X incident, above every account: what it is and why nobody is asked
/// to reconnect.
fn x_incident_warning(i: &crate::domain::incidents::XIncident) -> AppWarning {
    let state = match i.recovered_at {
        Some(at) => format!("X answers normally again since {}: authwatch is verifying each account with one refresh.", utc(at)),
        None => "Their reconnect prompts are held; once X answers normally again, authwatch verifies each with one refresh, and only those still refused are sent to reconnect.".to_owned(),
    };
    AppWarning {
        cause: i.cause,
        message: format!(
            "X incident: {} accounts failed the same way since {} ({}) — most likely X's problem, not the accounts'. {state}",
            i.failing,
            utc(i.since),
            i.cause.describe()
        ),
    }
}

fn row(s: &AccountSummary, d: &Diagnosis, required: &Scopes, viewer: &User) -> AccountRow {
    let granted = Scopes::parse(&s.scopes);
    let required = match s.flow {
        Flow::OAuth2 => required.clone(),
        Flow::OAuth1 => required.for_oauth1(),
    };
    let required = &required;
    let scopes = granted
        .iter()
        .map(|name| ScopeChip { name: name.to_owned(), missing: false })
        .chain(granted.missing_from(required).into_iter().map(|name| ScopeChip { name, missing: true }))
        .collect();
    AccountRow {
        id: s.id.clone(),
        handle: s.handle.clone(),
        name: s.display_name.clone(),
        health: d.health,
        summary: d.summary.clone(),
        next_step: d.next_step.clone(),
        who: d.who,
        generation: s.generation,
        issued_at: s.issued_at,
        expires_at: s.expires_at,
        scopes,
        last_refresh: s.last_refresh_at.map(|at| LastTry { at, ok: s.last_refresh_ok.unwrap_or(false) }),
        last_check: s.last_check_at.map(|at| LastTry { at, ok: s.last_check_ok.unwrap_or(false) }),
        owner: match (&s.owner_name, &s.backup_owner_name) {
            (Some(o), Some(b)) => Some(format!("{o} / {b}")),
            (Some(o), None) => Some(o.clone()),
            (None, Some(b)) => Some(format!("— / {b}")),
            (None, None) => None,
        },
        can_act: super::people::can_act(viewer, s),
        incident_since: s.incident_since,
        flow: s.flow,
        advice: (s.flow == Flow::OAuth1).then(|| MOVE_TO_OAUTH2.to_owned()),
    }
}

/// How many events the account page shows.
const TIMELINE: i64 = 100;

/// The account page, or `None` for an unknown id.
pub async fn account(state: &AppState, id: &str, viewer: &User) -> Result<Option<AccountDetail>, sqlx::Error> {
    let Some(s) = accounts::summary(&state.pool, id).await? else { return Ok(None) };
    let now = now_ms();
    let app = apps::facts(&state.pool, &state.x.app().client_id).await?;
    let required = &state.x.app().required_scopes;
    let d = diagnose(&s.facts(), &app, required, now, &state.policy);
    let timeline = events::recent(&state.pool, id, TIMELINE).await?;
    let row = row(&s, &d, required, viewer);
    let people = super::people::account_people(state, &s, viewer).await?;
    let answers = answers(&s, &d, &timeline, now);
    let last_error = s.incident_x_error.clone().map(|body| XErrorView {
        at: s.incident_at.unwrap_or(now),
        status: s.incident_status,
        body,
        cause: s.incident_cause.map_or("", Cause::describe).to_owned(),
    });
    Ok(Some(AccountDetail {
        now,
        row,
        x_user_id: s.x_user_id.clone(),
        client_id: s.client_id.clone(),
        connected_at: s.connected_at,
        access_fingerprint: s.access_fingerprint.clone(),
        refresh_fingerprint: s.refresh_fingerprint.clone(),
        answers,
        last_error,
        events: timeline.into_iter().map(event_view).collect(),
        warnings: app_warnings(&app, &state.policy),
        people,
    }))
}

fn event_view(e: events::Event) -> EventView {
    EventView {
        at: e.at,
        kind: e.kind,
        outcome: e.outcome,
        cause: e.cause.map(|c| c.describe().to_owned()),
        http_status: e.http_status,
        x_error: e.x_error,
        generation_before: e.generation_before,
        generation_after: e.generation_after,
        actor: e.actor,
        detail: e.detail,
    }
}

/// What a person asks of a failing account (which failed and since when,
/// which token, did the refresh token survive, do the scopes cover posting,
/// was the retry made once, X's exact words, who must act), answered from
/// the facts in plain sentences.
fn answers(s: &AccountSummary, d: &Diagnosis, timeline: &[events::Event], now: i64) -> Vec<Answer> {
    let mut out = Vec::new();
    let mut ask = |question: &str, answer: String, ok: bool| {
        out.push(Answer { question: question.to_owned(), answer, ok });
    };

    ask(
        "Is it failing, and since when?",
        match (d.health.needs_person() || d.health == Health::XUnavailable, s.incident_since) {
            (true, Some(since)) => format!("Yes, since {}. {}", utc(since), d.summary),
            (true, None) => format!("Yes. {}", d.summary),
            (false, _) => format!("No. {}", d.summary),
        },
        !d.health.needs_person(),
    );

    // The failure the open incident rests on: its latest event of that cause.
    let deciding = timeline
        .iter()
        .find(|e| e.outcome == Outcome::Failed && e.cause.is_some() && e.cause == s.incident_cause)
        .and_then(|e| Some(Deciding { cause: e.cause?, at: e.at, status: e.http_status, detail: e.detail.as_deref() }));
    let facts = WhyFacts { diagnosis: d, deciding, last_verified_at: s.last_verified_at, expires_at: s.expires_at };
    ask("Why this verdict?", why(&facts), !d.health.needs_person());

    if s.flow == Flow::OAuth1 {
        ask(
            "Which token is current?",
            format!(
                "Generation {}: OAuth 1.0a token {} issued at {}. It does not expire and there is no refresh token: it works until the account revokes the app or the app's keys change.",
                s.generation,
                s.access_fingerprint,
                utc(s.issued_at)
            ),
            true,
        );
        ask(
            "Refresh or reconnect — and who acts?",
            format!("{} Who: {}. {}", d.next_step, d.who.describe(), MOVE_TO_OAUTH2),
            !d.health.needs_person(),
        );
        return out;
    }
    let expiry = if now >= s.expires_at {
        format!("expired at {}", utc(s.expires_at))
    } else {
        format!("expires at {}", utc(s.expires_at))
    };
    ask(
        "Which token is current?",
        format!(
            "Generation {}: access token {} issued at {} and {}; refresh token {}.",
            s.generation,
            s.access_fingerprint,
            utc(s.issued_at),
            expiry,
            s.refresh_fingerprint.as_deref().unwrap_or("none")
        ),
        now < s.expires_at,
    );

    let last_refresh = timeline.iter().find(|e| e.kind == EventKind::Refresh);
    let (saved, ok) = match last_refresh {
        None => (format!("No refresh yet: the tokens come from the {} at {}.", connect_word(timeline), utc(s.connected_at)), true),
        Some(e) if e.outcome == Outcome::Ok => (
            if e.kept_refresh_token {
                format!(
                    "The refresh at {} returned no new refresh token; the previous one was kept (generation {}).",
                    utc(e.at),
                    e.generation_after.unwrap_or(s.generation)
                )
            } else {
                format!(
                    "Yes: the refresh at {} rotated the refresh token and the new one was saved as generation {}.",
                    utc(e.at),
                    e.generation_after.unwrap_or(s.generation)
                )
            },
            true,
        ),
        Some(e) if e.outcome == Outcome::Started => (
            format!(
                "Unknown: a refresh of generation {} started at {} and no answer was recorded. X may have rotated the refresh token.",
                e.generation_before.unwrap_or(s.generation),
                utc(e.at)
            ),
            false,
        ),
        Some(e) => (
            format!(
                "The last refresh, at {}, failed, so nothing was rotated or saved: {}",
                utc(e.at),
                e.cause.map_or("see the timeline.", Cause::describe)
            ),
            false,
        ),
    };
    ask("Did the refresh token survive the last exchange?", saved, ok);

    let granted = Scopes::parse(&s.scopes);
    let publishing = Scopes::from_names(PUBLISHING.iter().copied());
    let missing = granted.missing_from(&publishing);
    ask(
        "Do the granted scopes cover publishing?",
        if missing.is_empty() {
            format!("Yes: {} covers tweet.read, tweet.write and users.read.", granted)
        } else {
            format!(
                "No: {} is missing. Reconnect granting it; if X does not offer it, the X app's permissions need changing.",
                missing.join(", ")
            )
        },
        missing.is_empty(),
    );

    let refresh = |e: &&events::Event| e.kind == EventKind::Refresh;
    let since_success = timeline
        .iter()
        .filter(refresh)
        .take_while(|e| e.outcome != Outcome::Ok)
        .filter(|e| e.outcome != Outcome::Started)
        .count();
    ask(
        "Were refreshes retried, and how often?",
        match since_success {
            0 => "No failed refresh since the last success: nothing was retried.".to_owned(),
            1 => "One refresh attempt failed since the last success; it was not retried in a loop.".to_owned(),
            n => format!("{n} refresh attempts failed since the last success."),
        },
        since_success == 0,
    );

    ask(
        "Refresh or reconnect — and who acts?",
        format!("{} Who: {}.", d.next_step, d.who.describe()),
        !d.health.needs_person(),
    );
    out
}

fn connect_word(timeline: &[events::Event]) -> &'static str {
    if timeline.iter().any(|e| e.kind == EventKind::Reconnect) {
        "reconnect"
    } else {
        "connect"
    }
}

/// A time as people read it, in UTC.
pub fn utc(ms: i64) -> String {
    crate::domain::format::utc(ms)
}

/// What the health checks cost at X, from the accounts X answered a user
/// read for yesterday and today (UTC).
async fn check_spend(state: &AppState) -> Result<CheckSpend, sqlx::Error> {
    use crate::domain::checks::spend;
    let (today, yesterday) = crate::server::db::reads::today_and_yesterday(&state.pool, now_ms()).await?;
    let (estimate, basis) = if yesterday > 0 {
        (spend(yesterday), format!("{yesterday} account(s) asked yesterday (UTC)"))
    } else {
        (spend(today), format!("{today} account(s) asked so far today (UTC); nothing yesterday"))
    };
    Ok(CheckSpend { today, yesterday, estimate, basis })
}

/// The settings page.
pub async fn settings(state: &AppState) -> Result<SettingsView, sqlx::Error> {
    let config = &state.config;
    let app = state.x.app();
    let mut problems = Vec::new();
    if app.callback_url.scheme() == "http" && !is_local(&app.callback_url) {
        problems.push(format!(
            "The callback URL {} is plain http on a public host: X only accepts https callbacks outside localhost. Set AUTHWATCH_PUBLIC_URL to the https address.",
            app.callback_url
        ));
    }
    if let XMode::Live(_) = config.x {
        if !app.required_scopes.contains("offline.access") {
            problems.push("AUTHWATCH_X_REQUIRED_SCOPES lacks offline.access: X will give no refresh tokens, so every account dies after 2 hours.".into());
        }
        if app.endpoints.token_url.host_str() != app.endpoints.api_base.host_str() {
            problems.push("The token URL and the API base are on different hosts: is one of them still pointing at a test emulator?".into());
        }
    }
    Ok(SettingsView {
        environment: config.environment.clone(),
        demo: config.is_demo(),
        client_id: app.client_id.clone(),
        client_type: app.client_type.as_str().into(),
        callback_url: app.callback_url.to_string(),
        required_scopes: app.required_scopes.iter().map(str::to_owned).collect(),
        authorize_url: app.endpoints.authorize_url.to_string(),
        token_url: app.endpoints.token_url.to_string(),
        revoke_url: app.endpoints.revoke_url.to_string(),
        api_base: app.endpoints.api_base.to_string(),
        secret_fingerprint: app.client_secret.as_ref().map(|s| s.fingerprint()),
        oauth1: app.oauth1.as_ref().map(|o| Oauth1Settings {
            consumer_key: o.consumer_key.clone(),
            secret_fingerprint: o.consumer_secret.fingerprint(),
            callback_url: o.callback_url.to_string(),
            request_token_url: o.request_token_url.to_string(),
        }),
        database: if config.database_url.is_some() {
            "AUTHWATCH_DATABASE_URL".into()
        } else {
            config.default_database_file().display().to_string()
        },
        refresh_lead_minutes: state.policy.refresh_lead_ms / 60_000,
        clock_drift_threshold_seconds: state.policy.clock_drift_threshold_ms / 1000,
        problems,
        check_spend: check_spend(state).await?,
    })
}

fn is_local(url: &url::Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}
