//! A real PostgreSQL server for the tests of the PostgreSQL store: Debian's
//! binaries, a throwaway cluster in a temporary folder (`initdb -A trust`,
//! fsync off), on a free loopback port. A test binary shares one
//! ([`PgCluster::shared`]) and gives each test its own database
//! ([`PgCluster::database`]); a test that stops the server starts its own.
//!
//! Used by the engine's store tests (included by path) and by the end-to-end
//! tests. Runs as the `postgres` user when the tests run as root (initdb refuses
//! root). A watchdog shell stops the server when the test process is gone, since
//! a shared cluster's `Drop` never runs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The superuser the cluster is made with.
const USER: &str = "pigeonhole";

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// The cluster this test binary shares, started on first use.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start)
    }

    /// A new cluster of its own, started.
    pub fn start() -> PgCluster {
        let bin = binaries();
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new().prefix("pigeonhole-pg").tempdir_in("/tmp").expect("a temporary folder");
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()), "chown");
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = PgCluster { dir, bin, port, as_postgres };
        run(
            cluster
                .command("initdb")
                .args(["-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8", "-D"])
                .arg(cluster.data()),
            "initdb",
        );
        cluster.run_server();
        cluster.watch(std::process::id());
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running Debian's `tool`, as `postgres` when we are root.
    fn command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(tool);
            command
        } else {
            Command::new(tool)
        }
    }

    fn run_server(&self) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-l"])
                .arg(self.dir.path().join("log"))
                .args(["-o", &options, "start"]),
            "pg_ctl start",
        );
    }

    /// Stop the server at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn stop_immediately(&self) {
        run(self.command("pg_ctl").arg("-D").arg(self.data()).args(["-w", "-m", "immediate", "stop"]), "pg_ctl stop");
    }

    /// Start it again after [`PgCluster::stop_immediately`].
    pub fn restart(&self) {
        self.run_server();
    }

    /// The URL of a new, empty database.
    pub fn database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.execute(&self.url("postgres"), &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Run `sql` on `url`; the first column of every row, as text. On a thread of
    /// its own: the sync client may not run inside a tokio runtime.
    pub fn execute(&self, url: &str, sql: &str) -> Vec<String> {
        let (url, sql) = (url.to_owned(), sql.to_owned());
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test PostgreSQL");
            let rows = client.simple_query(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .filter_map(|message| match message {
                    postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or_default().to_owned()),
                    _ => None,
                })
                .collect()
        })
        .join()
        .expect("the SQL thread panicked")
    }

    /// Stop the server when process `pid` (this test process) is gone.
    fn watch(&self, pid: u32) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {} {} -D {} -m immediate stop >/dev/null 2>&1",
            if self.as_postgres { "runuser -u postgres --" } else { "" },
            self.bin.join("pg_ctl").display(),
            self.data().display()
        );
        let _ = Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The newest of Debian's PostgreSQL versions installed.
fn binaries() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install Debian's postgresql package \
             (scripts/setup.sh does)"
        ),
    }
}

fn running_as_root() -> bool {
    Path::new("/proc/self").exists()
        && Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
