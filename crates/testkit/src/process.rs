//! Child processes and ports: what every server and service a test or a
//! benchmark starts goes through.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now, and never handed out before by
/// this process: stacks started in parallel pick their ports at the same
/// time, and the kernel may offer a just-released port again.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(what: &str, port: u16, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    while !port_open(port) {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what} did not listen on 127.0.0.1:{port} within {timeout:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn log_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new().create(true).append(true).open(path)
}

/// Starts `cmd` with its output appended to `log`, in its own process group
/// so that a terminal's Ctrl-C reaches only who started it.
pub(crate) fn spawn_logged(cmd: &mut Command, log: &Path) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let out = log_file(log)?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start {:?}: {e}", cmd.get_program()),
            )
        })
}

/// SIGTERM, then SIGKILL if it has not exited within `grace`.
pub fn terminate(child: &mut Child, grace: Duration) {
    // Teardown: there is nothing left to do about a child that will not die.
    let _ = stop(child, grace);
}

/// SIGTERM, then SIGKILL if it has not exited within `grace`; its exit
/// status, and whether it needed the SIGKILL.
pub fn stop(child: &mut Child, grace: Duration) -> io::Result<(ExitStatus, bool)> {
    if let Some(status) = child.try_wait()? {
        return Ok((status, false));
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill()?;
    Ok((child.wait()?, true))
}
