//! A run plan's marks filled with a new container's own values: what
//! src/containers/run-plan.ts `makePlan` took out of a full run's files (the
//! id, the generated name, the creation time and creator, the command after
//! the image) put back, by string replacement in the files' JSON text. The
//! texts are the full run's own (`JSON.stringify`'s): a replay writes them
//! byte for byte as the full run would have. The marks and where each goes
//! are plan.ts's; test/fixtures/contract/run-plan.json holds both sides to
//! them.

use container::json::Json;

/// Marks inside strings, as they read in JSON text (`\u0000id\u0000`), and in the helper's arguments (raw NULs).
const ID_IN_TEXT: &str = "\\u0000id\\u0000";
const SHORT_ID_IN_TEXT: &str = "\\u0000short-id\\u0000";
const ID_RAW: &str = "\u{0}id\u{0}";
const SHORT_ID_RAW: &str = "\u{0}short-id\u{0}";
/// Marks that are a whole (quoted) value.
const NAME: &str = "\"\\u0000name\\u0000\"";
const SPEC_ARGS: &str = "\"\\u0000args\\u0000\"";
const PATH: &str = "\"\\u0000path\\u0000\"";
const INSPECT_ARGS: &str = "\"\\u0000inspect-args\\u0000\"";
const CMD: &str = "\"\\u0000cmd\\u0000\"";
const CREATED: &str = "\"\\u0000created\\u0000\"";
const CREATOR_PID: &str = "\"\\u0000creator-pid\\u0000\"";
const CREATOR_START: &str = "\"\\u0000creator-start\\u0000\"";

/// What a plan holds (plan.ts `PlanShape`, the parts filled here).
pub struct Plan {
    pub spec_text: String,
    pub inspect_text: String,
    pub state_text: String,
    pub helper_args: Vec<String>,
    /// What comes before the command in the process's args and in inspect's Path + Args; None: no command given.
    pub command: Option<(Vec<String>, Vec<String>)>,
}

/// A new container's own values (the places plan.ts `makePlan` marked).
pub struct Own<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub created: &'a str,
    pub creator_pid: i32,
    pub creator_start_time: Option<&'a str>,
    pub command: &'a [String],
}

/// config.json's, inspect.json's and state.json's texts and the helper's arguments.
pub struct Files {
    pub spec_text: String,
    pub inspect_text: String,
    pub state_text: String,
    pub helper_args: Vec<String>,
}

pub fn instantiate(plan: &Plan, own: &Own) -> Files {
    let short = &own.id[..12.min(own.id.len())];
    let ids = |text: &str| text.replace(ID_IN_TEXT, own.id).replace(SHORT_ID_IN_TEXT, short);
    let mut spec_text = ids(&plan.spec_text).replacen(NAME, &string(own.name), 1);
    let mut inspect_text = ids(&plan.inspect_text);
    let mut state_text = ids(&plan.state_text)
        .replacen(NAME, &string(own.name), 1)
        .replacen(CREATED, &string(own.created), 1)
        .replacen(CREATOR_PID, &own.creator_pid.to_string(), 1)
        .replacen(CREATOR_START, &own.creator_start_time.map_or_else(|| "null".to_string(), string), 1);
    if let Some((spec_head, inspect_head)) = &plan.command {
        let process_args: Vec<String> = spec_head.iter().chain(own.command).cloned().collect();
        let run: Vec<String> = inspect_head.iter().chain(own.command).cloned().collect();
        spec_text = spec_text.replacen(SPEC_ARGS, &array(&process_args), 1);
        inspect_text = inspect_text
            .replacen(PATH, &run.first().map_or_else(|| "null".to_string(), |s| string(s)), 1)
            .replacen(INSPECT_ARGS, &array(run.get(1..).unwrap_or(&[])), 1)
            .replacen(CMD, &array(own.command), 1);
        state_text = replace_pretty_array(&state_text, CMD, &process_args);
    }
    let helper_args = plan.helper_args.iter().map(|a| a.replace(ID_RAW, own.id).replace(SHORT_ID_RAW, short)).collect();
    Files { spec_text, inspect_text, state_text, helper_args }
}

/// `JSON.stringify(s)`.
fn string(s: &str) -> String {
    Json::from(s).to_string()
}

/// `JSON.stringify(items)`.
fn array(items: &[String]) -> String {
    Json::Array(items.iter().map(|s| Json::from(s.as_str())).collect()).to_string()
}

/// The first `mark` in `text` replaced by `items` as `JSON.stringify(…, null, 2)` writes an array where the mark
/// is: one item a line, indented two more than the mark's line, the bracket closing at the line's own indent.
fn replace_pretty_array(text: &str, mark: &str, items: &[String]) -> String {
    let at = match text.find(mark) {
        Some(at) => at,
        None => return text.to_string(),
    };
    let line_start = text[..at].rfind('\n').map_or(0, |nl| nl + 1);
    let indent = text[line_start..].len() - text[line_start..].trim_start_matches(' ').len();
    let value = if items.is_empty() {
        "[]".to_string()
    } else {
        let inner = " ".repeat(indent + 2);
        let lines: Vec<String> = items.iter().map(|s| format!("{}{}", inner, string(s))).collect();
        format!("[\n{}\n{}]", lines.join(",\n"), " ".repeat(indent))
    };
    format!("{}{}{}", &text[..at], value, &text[at + mark.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use container::json;

    fn strings(v: Option<&Json>) -> Vec<String> {
        v.and_then(Json::as_array).unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    }

    /// The fixture's plans, filled with its own values, give its files (plan.ts's side reads the same file).
    #[test]
    fn contract_run_plan() {
        let cases = json::parse(include_str!("../../../../test/fixtures/contract/run-plan.json")).unwrap();
        for case in cases.as_array().unwrap() {
            let p = case.get("plan").unwrap();
            let text = |v: &Json, k: &str| v.get(k).and_then(Json::as_str).unwrap().to_string();
            let plan = Plan {
                spec_text: text(p, "specText"),
                inspect_text: text(p, "inspectText"),
                state_text: text(p, "stateText"),
                helper_args: strings(p.get("helperArgs")),
                command: p.get("command").filter(|c| !matches!(c, Json::Null)).map(|c| (strings(c.get("specHead")), strings(c.get("inspectHead")))),
            };
            let o = case.get("own").unwrap();
            let command = strings(o.get("command"));
            let start = o.get("creatorStartTime").and_then(Json::as_str).map(str::to_string);
            let own = Own {
                id: &text(o, "id"),
                name: &text(o, "name"),
                created: &text(o, "created"),
                creator_pid: o.get("creatorPid").and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap() as i32,
                creator_start_time: start.as_deref(),
                command: &command,
            };
            let files = instantiate(&plan, &own);
            let want = case.get("files").unwrap();
            let what = text(case, "what");
            assert_eq!(files.spec_text, text(want, "specText"), "{}: config.json", what);
            assert_eq!(files.inspect_text, text(want, "inspectText"), "{}: inspect.json", what);
            assert_eq!(files.state_text, text(want, "stateText"), "{}: state.json", what);
            assert_eq!(files.helper_args, strings(want.get("helperArgs")), "{}: the helper's arguments", what);
        }
    }

    #[test]
    fn a_pretty_array_takes_the_indent_of_its_line() {
        let text = "{\n  \"command\": \"\\u0000cmd\\u0000\",\n  \"x\": 1\n}\n";
        let items = vec!["sh".to_string(), "-c".to_string()];
        assert_eq!(replace_pretty_array(text, CMD, &items), "{\n  \"command\": [\n    \"sh\",\n    \"-c\"\n  ],\n  \"x\": 1\n}\n");
        assert_eq!(replace_pretty_array(text, CMD, &[]), "{\n  \"command\": [],\n  \"x\": 1\n}\n");
    }
}
