//! Shell command lines for people to paste: words quoted so that bash reads back exactly the
//! bytes the kernel holds, on one line, whatever a hostile peer put in a name.

/// [`quote`] for a path that may not be UTF-8: its other bytes are written `\xNN` inside
/// `$'...'`, so the command names exactly that file.
pub fn quote_bytes(path: &[u8]) -> String {
    match std::str::from_utf8(path) {
        Ok(text) => quote(text),
        Err(_) => {
            let mut out = String::from("$'");
            for chunk in path.utf8_chunks() {
                for c in chunk.valid().chars() {
                    push_dollar_quoted(&mut out, c);
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out.push('\'');
            out
        }
    }
}

/// One character inside bash's `$'...'`.
fn push_dollar_quoted(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\'' => out.push_str("\\'"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            let mut utf8 = [0u8; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        c => out.push(c),
    }
}

/// Quotes a path for a shell command line when it needs quoting. A name with control
/// characters (a newline in a /dev/shm name is legal) is written `$'...'` with escapes, so
/// the command stays on one line and means exactly that file when pasted.
pub fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b))
    {
        text.to_string()
    } else if text.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in text.chars() {
            push_dollar_quoted(&mut out, c);
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_keeps_a_hostile_name_on_one_line_and_exact() {
        assert_eq!(quote("/dev/shm/orders"), "/dev/shm/orders");
        assert_eq!(quote("/mnt/my ram/x"), "'/mnt/my ram/x'");
        assert_eq!(quote("/dev/shm/it's"), r"'/dev/shm/it'\''s'");
        let q = quote("/dev/shm/a\nrm -rf ~\t'\\\u{1b}");
        assert_eq!(q, r"$'/dev/shm/a\nrm -rf ~\t\'\\\x1b'");
        assert!(!q.chars().any(char::is_control));
        // bash reads it back as the very same name.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {q}"))
            .output()
            .expect("bash");
        assert_eq!(out.stdout, "/dev/shm/a\nrm -rf ~\t'\\\u{1b}".as_bytes());
        // Bytes that are not UTF-8 too.
        let q = quote_bytes(b"/dev/shm/a\xff'b");
        assert_eq!(q, r"$'/dev/shm/a\xff\'b'");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {q}"))
            .output()
            .expect("bash");
        assert_eq!(out.stdout, b"/dev/shm/a\xff'b");
    }
}
