//! Go `flag`/pflag spellings to clap spellings.
//!
//! Existing kube-dns manifests pass single-dash long flags (`-v=2 -logtostderr
//! -configDir=/x`), which clap cannot parse (clap-rs/clap#1210). [`normalize`] rewrites the
//! names it is given to `--name` before clap sees them. Everything after the first `--` is
//! left untouched (it belongs to a child process).

/// Rewrites `-name`, `-name=value` to `--name`, `--name=value` for every `name` in `long`.
///
/// The first element (program name) is kept as is. Arguments after a bare `--` are copied
/// unchanged, and so is the `--` itself.
pub fn normalize<I, S>(argv: I, long: &[&str]) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    for (i, arg) in argv.into_iter().enumerate() {
        let arg: String = arg.into();
        if i == 0 || passthrough {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        out.push(rewrite(&arg, long).unwrap_or(arg));
    }
    out
}

fn rewrite(arg: &str, long: &[&str]) -> Option<String> {
    let body = arg.strip_prefix('-')?;
    if body.starts_with('-') {
        return None;
    }
    let name = body.split('=').next().unwrap_or(body);
    long.contains(&name).then(|| format!("-{arg}"))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn rewrites_known_single_dash_flags_only() {
        let argv = [
            "nanny",
            "-v=2",
            "-logtostderr",
            "-configDir=/etc/k8s",
            "-x",
            "--already",
            "--",
            "-k",
            "-v=9",
        ];
        let got = normalize(argv, &["v", "logtostderr", "configDir"]);
        assert_eq!(
            got,
            [
                "nanny",
                "--v=2",
                "--logtostderr",
                "--configDir=/etc/k8s",
                "-x",
                "--already",
                "--",
                "-k",
                "-v=9"
            ]
        );
    }
}
