//! `sysv`: the seed's shm.c. A creator process makes an `IPC_PRIVATE` segment, reads it with
//! `IPC_STAT`, tries to double it with `IPC_SET` (the kernel ignores `shm_segsz`) and exits
//! without `IPC_RMID`; a second child attaches and fills it; the memory stays pinned with
//! nattch 0 across drop_caches until `IPC_RMID`.

use super::{human, pinned_across_drop_caches, remove_segment};
use crate::error::{Error, ErrorKind, Result};
use crate::lab::child::ChildProc;
use crate::lab::runner::Lab;
use crate::lab::sample::Counter;
use crate::lab::verdict::Expectation;
use crate::lab::Outcome;
use crate::sys::sysv;

pub(super) fn run(lab: &mut Lab<'_>) -> Result<Outcome> {
    let size = lab.size();
    let creator = ChildProc::spawn(&lab.options().child, "sysv-create", &[size.to_string()])?;
    let creator_pid = creator.pid();
    let ended = creator.run_to_end();
    // The id is registered for removal as soon as it is known, even if the creator failed later.
    let said = match &ended {
        Ok(e) => e.said.clone(),
        Err(_) => Default::default(),
    };
    let id: i32 = said
        .get("id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| match &ended {
            Err(e) => Error::new(ErrorKind::Other, "lab sysv", e.to_string()),
            Ok(_) => Error::new(
                ErrorKind::Other,
                "lab sysv",
                "the creator did not say the segment id",
            ),
        })?;
    let segment = lab.on_cleanup(format!("ipcrm -m {id}"), move || remove_segment(id));
    ended?;
    let number = |key: &str| -> u64 { said.get(key).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let (first_size, asked, after_set) =
        (number("size"), number("set-size"), number("size-after-set"));
    let st =
        sysv::stat(id).map_err(|e| Error::io(format!("sysv:id={id}"), "shmctl(IPC_STAT)", e))?;
    lab.step(
        format!("creator pid {creator_pid}: shmget(IPC_PRIVATE, {}, 0600) = id {id}; IPC_SET with shm_segsz {}; exit without IPC_RMID", human(size), human(asked)),
        vec![
            format!("IPC_STAT before IPC_SET: shm_segsz {}", human(first_size)),
            format!("IPC_STAT after IPC_SET:  shm_segsz {} (shm.c printed its doubled 2 GiB through %d: -4194304, an overflow, not a size)", human(after_set)),
            "a segment takes no memory until its pages are touched".to_string(),
        ],
        vec![
            Expectation::fact(
                "size after IPC_SET with shm_segsz doubled (the kernel ignores it)",
                human(size),
                human(after_set),
            ),
            Expectation::fact("size seen by IPC_STAT now", human(size), human(st.size)),
            Expectation::fact("creator pid (shm_cpid)", creator_pid.to_string(), st.cpid.to_string()),
            Expectation::unchanged(Counter::Shmem),
        ],
    )?;

    let filler = ChildProc::spawn(&lab.options().child, "sysv-fill", &[id.to_string()])?;
    let filler_pid = filler.pid();
    filler.run_to_end()?;
    lab.step(
        format!(
            "child pid {filler_pid}: shmat, zero all {}, write \"Hello!\", shmdt, exit",
            human(size)
        ),
        Vec::new(),
        vec![
            Expectation::grows(Counter::Shmem, size),
            Expectation::grows(Counter::CachedBeyondFileLru, size),
        ],
    )?;

    let mut hello = [0u8; 6];
    {
        let map =
            sysv::shmat(id, true).map_err(|e| Error::io(format!("sysv:id={id}"), "shmat", e))?;
        map.read_at(0, &mut hello)
            .map_err(|e| Error::io(format!("sysv:id={id}"), "read", e.into()))?;
    }
    let st =
        sysv::stat(id).map_err(|e| Error::io(format!("sysv:id={id}"), "shmctl(IPC_STAT)", e))?;
    let creator_alive = matches!(lab.options().proc.pid_stat(creator_pid), Ok(Some(_)));
    lab.step(
        format!(
            "this process: shmat read-only, read, shmdt (like shm.c's parent); IPC_STAT id {id}"
        ),
        vec![format!(
            "ipcs -m would show id {id}: {} bytes, nattch {}, creator pid {} ({})",
            st.size,
            st.nattch,
            st.cpid,
            if creator_alive { "alive" } else { "exited" }
        )],
        vec![
            Expectation::fact(
                "the segment reads",
                "Hello!",
                String::from_utf8_lossy(&hello),
            ),
            Expectation::fact(
                "nattch with every process detached",
                "0",
                st.nattch.to_string(),
            ),
            Expectation::fact(
                "creator process",
                "exited",
                if creator_alive { "alive" } else { "exited" },
            ),
            Expectation::unchanged(Counter::Shmem),
        ],
    )?;

    lab.drop_caches()?;
    let still = sysv::stat(id)
        .map(|s| human(s.size))
        .unwrap_or_else(|e| e.to_string());
    lab.step(
        "sync; echo 3 > /proc/sys/vm/drop_caches (nobody attached)",
        Vec::new(),
        {
            let mut expect = pinned_across_drop_caches(size);
            expect.push(Expectation::fact(
                "the segment still exists with size",
                human(size),
                still,
            ));
            expect
        },
    )?;

    if lab.keep_if_asked() {
        return Ok(Outcome::Completed);
    }
    lab.clean_now(segment)
        .map_err(|e| Error::io(format!("sysv:id={id}"), "shmctl(IPC_RMID)", e))?;
    let gone = match sysv::stat(id) {
        Ok(_) => "still there".to_string(),
        Err(e) => format!("gone ({})", crate::error::os_message(&e)),
    };
    lab.step(
        format!("shmctl(id {id}, IPC_RMID)  (ipcrm -m {id})"),
        Vec::new(),
        vec![
            Expectation::falls(Counter::Shmem, size),
            Expectation::falls(Counter::CachedBeyondFileLru, size),
            Expectation::fact("IPC_STAT afterwards", "gone (Invalid argument)", gone),
        ],
    )?;
    Ok(Outcome::Completed)
}
