//! Where the server listens: the `--web.listen-address` flags, or the sockets systemd passed
//! (`--web.systemd-socket`, socket activation: `LISTEN_FDS` and `LISTEN_PID`).
//!
//! Taking a passed descriptor means `FromRawFd`, which is `unsafe` and forbidden in this crate;
//! the `listenfd` crate does it (checking that each descriptor is a listening TCP socket and
//! that `LISTEN_PID` is this process).

/// The TCP sockets systemd passed to this process. Call it before any other thread starts: it
/// removes `LISTEN_FDS` and `LISTEN_PID` from the environment (as `sd_listen_fds` does), so a
/// child never takes them for its own. The error is one line.
pub fn systemd_sockets() -> Result<Vec<std::net::TcpListener>, String> {
    #[cfg(unix)]
    {
        let mut fds = listenfd::ListenFd::from_env();
        if fds.len() == 0 {
            return Err(
                "--web.systemd-socket: systemd passed no socket (LISTEN_FDS unset, or LISTEN_PID names \
                        another process): start the exporter from a .socket unit, or drop the flag"
                    .to_string(),
            );
        }
        let mut listeners = Vec::with_capacity(fds.len());
        for i in 0..fds.len() {
            let listener = fds
                .take_tcp_listener(i)
                .map_err(|e| format!("--web.systemd-socket: passed socket {}: {e}", i + 3))?
                .ok_or_else(|| format!("--web.systemd-socket: passed socket {} is gone", i + 3))?;
            listener
                .set_nonblocking(true)
                .map_err(|e| format!("--web.systemd-socket: passed socket {}: {e}", i + 3))?;
            listeners.push(listener);
        }
        Ok(listeners)
    }
    #[cfg(not(unix))]
    Err("--web.systemd-socket: socket activation needs systemd (Linux)".to_string())
}
