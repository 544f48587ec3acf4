//! What `top` does to the selected object: show its `stat`, and remove it exactly when
//! `shmkit rm` would.
//!
//! Both run on a worker thread. `stat` runs the `shmkit` binary itself
//! (`/proc/self/exe stat ADDR`), so the view shows what `stat` prints, word for word. A
//! removal goes through the library's removal policy ([`shmkit::reap`]), the one `shmkit rm`
//! uses, with its re-checks (attachments, holders in every thread, marked segments), after
//! making sure the object at the address is still the one the screen showed: an id or a name
//! may belong to a new object since the sample.

use super::model;
use shmkit::address::Address;
use shmkit::render::size;
use shmkit::scan::{Kind, Object};
use shmkit::segment::{self, OpenOptions};
use std::process::Command;

/// Why the selected object cannot be removed from `top`, before asking anything; `None` when
/// `top` may ask for confirmation.
pub fn refusal(o: &Object) -> Option<String> {
    let what = model::label(o);
    let address = &o.address;
    if matches!(address, Address::Held(_)) {
        return Some(format!(
            "{what}: no command can remove a {} (it goes with its last holder); stop its holders",
            o.kind
        ));
    }
    if o.kind == Kind::Memfd {
        return Some(format!(
            "{address}: a memfd goes with its last holder; stop its holders"
        ));
    }
    if o.location.foreign {
        // The library removes in this process's namespaces, where the same id or name may be
        // another object: the removal belongs inside the object's own namespaces.
        let inside = match (&o.location.container, o.location.pid) {
            (Some(c), _) => format!("--container {}", c.label()),
            (None, Some(pid)) => format!("--target {pid}"),
            (None, None) => "--container NAME".to_string(),
        };
        return Some(format!(
            "{address}: it lives in {}, not here; remove it there with `shmkit rm {inside} {address}`",
            model::container(o).unwrap_or_else(|| "another namespace".into())
        ));
    }
    if model::in_use(o) {
        return Some(format!(
            "{address}: it is in use ({}); top never removes an object in use (`shmkit rm --force` does)",
            model::holders_cell(o)
        ));
    }
    if o.status.marked_for_destruction {
        return Some(format!(
            "{address}: already removed (IPC_RMID); its memory comes back at the last detach"
        ));
    }
    None
}

/// The confirmation question, naming the object.
pub fn question(o: &Object) -> String {
    format!(
        "Remove {} ({}, {} resident, {})?",
        model::label(o),
        o.kind,
        size::human(o.resident.unwrap_or(0)),
        model::status(o)
    )
}

/// The `shmkit` binary running this.
fn myself() -> Command {
    let mut cmd = Command::new("/proc/self/exe");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// What `shmkit stat` says of the object, or, for an object no address reaches (shared
/// anonymous memory), what the sample knows of it.
pub fn stat(o: &Object) -> String {
    let address = o.address.to_string();
    let held = matches!(o.address, Address::Held(_));
    let mut cmd = myself();
    cmd.arg("stat");
    // An object of another namespace is stat'ed inside it, through a process that lives there;
    // one reached through a holder's descriptor or mapping is reached from here.
    if let (true, false, Some(pid)) = (o.location.foreign, held, o.location.pid) {
        cmd.arg("--target").arg(pid.to_string());
    }
    match cmd.arg(&address).output() {
        // Its holder let go since the sample: what the sample knew is all there is.
        Ok(out) if held && !out.status.success() => describe(o),
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            sanitize_lines(&text)
        }
        Err(e) => format!("{address}: cannot run shmkit stat: {e}"),
    }
}

/// The sample's own facts about an object `stat` cannot address.
fn describe(o: &Object) -> String {
    let mut lines = vec![
        format!("kind      {}", o.kind),
        format!("name      {}", model::label(o)),
        format!("size      {} ({} bytes)", size::human(o.size), o.size),
        format!(
            "resident  {}",
            o.resident.map_or("unknown".into(), size::human)
        ),
        format!("status    {}", model::status(o)),
        format!("holders   {}", o.holders.len()),
    ];
    for h in &o.holders {
        lines.push(format!(
            "  {} {} ({} mapped)",
            h.pid,
            shmkit::render::table::sanitize(&h.comm),
            size::human(h.mapped)
        ));
    }
    lines.push(format!(
        "lifetime  {}",
        if o.kind.lifetime().process_exit.answer == shmkit::survival::Answer::Yes {
            "survives its processes"
        } else {
            "freed at its last unmap and close"
        }
    ));
    lines.join("\n")
}

/// Removes the object if it is still the one shown and `shmkit rm` would (the library's
/// [`shmkit::reap::remove_address`], with its own re-checks); returns the line to show.
pub fn remove(o: &Object) -> String {
    if let Some(refused) = refusal(o) {
        return refused;
    }
    let text = o.address.to_string();
    let address = o.address.clone();
    match segment::open(&address, &OpenOptions::metadata()).and_then(|s| s.stat()) {
        Ok(stat) if shmkit::reap::is_same_object(o, &stat) => {}
        Ok(_) => {
            return format!(
                "{text}: another object has this address since the sample; nothing removed"
            )
        }
        Err(e) => return e.to_string(),
    }
    match shmkit::reap::remove_address(&address, false, false) {
        Ok(removed) => format!(
            "removed {text} ({}); {} of memory came back",
            removed.kind,
            size::human(removed.freed)
        ),
        Err(e) => shmkit::render::table::sanitize(&e.to_string()),
    }
}

/// Each line made printable (a name may hold escape sequences), the line breaks kept.
fn sanitize_lines(text: &str) -> String {
    text.lines()
        .map(shmkit::render::table::sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}
