"""The configuration file of siogate(8) and siogate.conf(5), as TAP: --check-config
of the defaults, of dist/siogate.conf and of a file that sets every option;
every error a file can hold (file:line, the message, exit 78); the command line
over the file; and SIGHUP: which options a running gateway applies and which
need a restart, checked against the "Reload:" entries of siogate.conf(5)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", "."), "tests", "lib"))
from tap import Proc, done, ok  # noqa: E402

SIOGATE = os.environ.get("SIOGATE", "")
TOP = os.environ.get("TOP_SRCDIR", ".")
TMP = tempfile.mkdtemp(prefix="siogate-conf.")

# A value other than the default for every option, by "section key" (a list
# gives several lines).  An option missing here fails the test: add it.
ALL = {
    "server listen": ["127.0.0.1:0", "[::1]:0"],
    "server path": ["/sio/"],
    "server engineio_path": ["/engine.io/", "/raw/"],
    "server cors_origin": ["https://a.example.com", "http://b.example.com:8080"],
    "server static": ["/srv/www"],
    "server client_dir": ["/srv/client/dist"],
    "server gateway_id": ["Tx_9"],
    "server threads": ["2"],
    "server http_timeout": ["1234"],
    "server max_http_header": ["4096"],
    "server max_url": ["1024"],
    "server max_output": ["2000000"],
    "engineio ping_interval": ["1111"],
    "engineio ping_timeout": ["2222"],
    "engineio max_payload": ["33333"],
    "engineio polling_max_packets": ["7"],
    "engineio allow_eio3": ["yes"],
    "socketio recovery_window": ["2000"],
    "socketio recovery_max_packets": ["77"],
    "socketio connect_timeout": ["4444"],
    "socketio ack_timeout": ["5555"],
    "socketio at_most_once": ["/live /ticker"],
    "bridge endpoint": ["ipc://%s/all.sock" % TMP],
    "bridge curve_secret_key_file": ["/etc/siogate/curve.key"],
    "bridge curve_authorized_keys": ["/etc/siogate/workers.keys"],
    "bridge heartbeat": ["666"],
    "bridge worker_backlog": ["77"],
    "bridge event_expiry": ["8888"],
    "log level": ["debug"],
    "log format": ["json"],
    "shutdown drain_timeout": ["999"],
    "metrics listen": ["127.0.0.1:0"],
    "cluster redis": ["redis://user:secret@127.0.0.1:1/2"],
    "cluster prefix": ["sg-test"],
    "cluster max_queue": ["100000"],
    "cluster request_timeout": ["1234"],
    "cluster python_channel": ["flask-socketio"],
    "limits max_connections": ["1000"],
    "limits max_connections_per_ip": ["100"],
    "limits handshake_rate": ["10"],
    "limits max_namespaces": ["5"],
    "limits max_rooms": ["50"],
    "limits max_attachments": ["6"],
    "limits max_depth": ["7"],
    "limits max_event_name": ["88"],
    "limits sid_bind_ip": ["yes"],
}
WORKERS = """
[worker alpha]
command = exec sleep 1000
processes = 3
namespaces = /chat /news
environment = A=1
environment = B=two words
directory = /tmp
user = nobody

[worker beta]
command = true
"""


def run(*args, stdin=None):
    """Run siogate with a deadline; (exit status, stdout, stderr)."""
    p = subprocess.run([SIOGATE] + list(args), capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def parse_conf(text):
    """--check-config output -> {"section key": [values]}; "; key = ..." lines skipped."""
    out, sec = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        m = re.match(r"\[(.+)\]$", line)
        if m:
            sec = m.group(1)
            continue
        k, _, v = line.partition("=")
        out.setdefault("%s %s" % (sec, k.strip()), []).append(v.strip())
    return out


def list_options():
    rc, out, _ = run("--list-options")
    opts = []
    for line in out.splitlines():
        cli, sec, key = line.split()
        if sec != "-" and cli != "-":
            opts.append((cli, sec, key))
    return opts


def all_file(opts, with_workers=True):
    by_sec = {}
    for cli, sec, key in opts:
        by_sec.setdefault(sec, []).append(key)
    text = "; every option set\n"
    for sec, keys in by_sec.items():
        text += "\n[%s]\n" % sec
        for key in keys:
            for v in ALL.get("%s %s" % (sec, key), []):
                text += "%s = %s\n" % (key, v)
    return text + (WORKERS if with_workers else "")


def check_defaults():
    rc, out, err = run("--check-config", "--config", "/dev/null")
    ok(rc == 0 and out.startswith("; siogate ") and "configuration is valid" in out,
       "--check-config of an empty file exits 0 and says the configuration is valid")
    defaults = parse_conf(out)
    ok(defaults.get("server listen") == ["127.0.0.1:8080"] and
       defaults.get("bridge endpoint") == ["tcp://127.0.0.1:5555"] and
       defaults.get("engineio ping_interval") == ["25000"] and defaults.get("log level") == ["info"],
       "the defaults are the documented ones (listen, bridge, ping_interval, log level)")
    if os.path.exists("/etc/siogate/siogate.conf"):
        ok(True, "--check-config without --config # SKIP /etc/siogate/siogate.conf exists here")
    else:
        rc2, out2, _ = run("--check-config")
        ok(rc2 == 0 and "no file, embedded defaults" in out2.splitlines()[0] and
           out2.splitlines()[1:] == out.splitlines()[1:],
           "--check-config without a file prints the same embedded defaults")
    return out


def check_dist(default_out):
    path = os.path.join(TOP, "dist", "siogate.conf")
    rc, out, err = run("--check-config", "--config", path)
    ok(rc == 0, "dist/siogate.conf passes --check-config" + ("" if rc == 0 else ": " + err.strip()))
    ok(out.splitlines()[1:] == default_out.splitlines()[1:],
       "dist/siogate.conf yields exactly the defaults")
    text = open(path).read()
    missing = ["[%s] %s" % (s, k) for c, s, k in list_options()
               if not re.search(r"^;? ?%s = " % re.escape(k), text.split("[%s]" % s, 1)[-1], re.M)]
    ok(not missing, "dist/siogate.conf shows every option" +
       ("" if not missing else ": missing " + ", ".join(missing)))


def check_all(opts):
    missing = ["%s %s" % (s, k) for c, s, k in opts if "%s %s" % (s, k) not in ALL]
    ok(not missing, "the test has a value for every option of --list-options" +
       ("" if not missing else ": add " + ", ".join(missing)))
    path = write("all.conf", all_file(opts))
    rc, out, err = run("--check-config", "--config", path)
    ok(rc == 0 and ("file " + path) in out.splitlines()[0],
       "a file setting every option passes --check-config" + ("" if rc == 0 else ": " + err.strip()))
    got = parse_conf(out)
    for cli, sec, key in opts:
        want = ALL.get("%s %s" % (sec, key))
        if want is None:
            continue
        have = got.get("%s %s" % (sec, key))
        if key in ("path", "engineio_path"):
            want = [v if v.endswith("/") else v + "/" for v in want]
        ok(have == want, "[%s] %s is echoed back: %r" % (sec, key, have) +
           ("" if have == want else " (want %r)" % want))
    ok(got.get("worker alpha command") == ["exec sleep 1000"] and
       got.get("worker alpha processes") == ["3"] and
       got.get("worker alpha namespaces") == ["/chat /news"] and
       got.get("worker alpha environment") == ["A=1", "B=two words"] and
       got.get("worker alpha directory") == ["/tmp"] and got.get("worker alpha user") == ["nobody"],
       "[worker alpha]: every key is echoed back")
    ok(got.get("worker beta command") == ["true"] and got.get("worker beta processes") == ["1"],
       "[worker beta]: processes defaults to 1")
    # What --check-config prints is a valid file that gives the same again.
    again = write("again.conf", out)
    rc2, out2, err2 = run("--check-config", "--config", again)
    ok(rc2 == 0 and out2.splitlines()[1:] == out.splitlines()[1:],
       "the output of --check-config reads back to the same configuration")


# Error cases: (name, file text, line, message regex).
ERRORS = [
    ("unknown section", "[server]\nlisten = 127.0.0.1:1\n\n[nosuch]\nkey = 1\n", 4,
     r"\[nosuch\]: unknown section \(allowed: server, engineio, .*worker NAME\)"),
    ("unknown key", "[engineio]\nping_intervall = 5\n", 2,
     r"\[engineio\] ping_intervall: unknown key \(allowed: ping_interval, ping_timeout, "
     r"max_payload, polling_max_packets, allow_eio3\)"),
    ("key outside any section", "ping_interval = 5\n", 1,
     r"ping_interval: key outside any \[section\]"),
    ("bad number", "[engineio]\nping_interval = 25s\n", 2,
     r"\[engineio\] ping_interval: '25s' is not a number from 10 to 3600000"),
    ("negative number", "[server]\nmax_url = -1\n", 2,
     r"\[server\] max_url: '-1' is not a number from 64 to 1048576"),
    ("number out of range", "\n[engineio]\n; comment\nmax_payload = 268435457\n", 4,
     r"\[engineio\] max_payload: '268435457' is not a number from 16 to 268435456"),
    ("number below range", "[server]\nhttp_timeout = 99\n", 2,
     r"'99' is not a number from 100 to 3600000"),
    ("bad listen (no port)", "[server]\nlisten = localhost\n", 2,
     r"\[server\] listen: 'localhost' is not HOST:PORT with a port 0-65535"),
    ("bad listen (port)", "[server]\nlisten = 127.0.0.1:65536\n", 2,
     r"'127.0.0.1:65536' is not HOST:PORT"),
    ("bad listen (IPv6 without brackets)", "[server]\nlisten = ::1\n", 2,
     r"'::1' is not HOST:PORT"),
    ("bad metrics listen", "[metrics]\nlisten = 9464\n", 2,
     r"\[metrics\] listen: '9464' is not HOST:PORT"),
    ("bad origin", "[server]\ncors_origin = example.com\n", 2,
     r"\[server\] cors_origin: 'example.com' is not an origin like https://example.com, or \*"),
    ("bad bridge endpoint", "[bridge]\nendpoint = 127.0.0.1:5555\n", 2,
     r"\[bridge\] endpoint: '127.0.0.1:5555' is not a ZeroMQ endpoint tcp://HOST:PORT or "
     r"ipc://PATH"),
    ("bad gateway id", "[server]\ngateway_id = abcde\n", 2,
     r"\[server\] gateway_id: 'abcde' is not 4 characters from \[A-Za-z0-9_-\]"),
    ("bad gateway id characters", "[server]\ngateway_id = ab.d\n", 2,
     r"'ab.d' is not 4 characters"),
    ("bad cluster scheme", "[cluster]\nredis = http://127.0.0.1:6379\n", 2,
     r"\[cluster\] redis: 'http://127.0.0.1:6379': not redis://\[\[USER\]:PASSWORD@\]HOST"),
    ("bad cluster port", "[cluster]\nredis = redis://127.0.0.1:0\n", 2,
     r"\[cluster\] redis: 'redis://127.0.0.1:0': port is not a number from 1 to 65535"),
    ("bad cluster credentials", "[cluster]\nredis = redis://secret@127.0.0.1\n", 2,
     r"\[cluster\] redis: 'redis://secret@127.0.0.1': credentials must be \[USER\]:PASSWORD@"),
    ("relative cluster unix path", "[cluster]\nredis = unix:redis.sock\n", 2,
     r"\[cluster\] redis: 'unix:redis.sock': unix: needs an absolute path"),
    ("bad cluster database", "[cluster]\nredis = redis://h:1/x\n", 2,
     r"\[cluster\] redis: 'redis://h:1/x': database is not a number"),
    ("cluster prefix with a pattern character", "[cluster]\nprefix = a*\n", 2,
     r"\[cluster\] prefix: 'a\*' is not 1 to 200 characters without"),
    ("bad log level", "[log]\nlevel = verbose\n", 2,
     r"\[log\] level: 'verbose' is not one of error, warn, info, debug"),
    ("bad log format", "[log]\nformat = xml\n", 2,
     r"\[log\] format: 'xml' is not one of text, json"),
    ("bad yes/no", "[limits]\nsid_bind_ip = maybe\n", 2,
     r"\[limits\] sid_bind_ip: 'maybe' is not one of yes, no"),
    ("bad path", "[server]\npath = socket.io\n", 2,
     r"\[server\] path: 'socket.io' is not an absolute path like /engine.io/"),
    ("two Socket.IO paths", "[server]\npath = /a/\npath = /b/\n", 3,
     r"'/b/': only one Socket.IO path"),
    ("an endpoint path used twice", "[server]\nengineio_path = /e/\nengineio_path = /e\n", 3,
     r"'/e': path already used by another endpoint"),
    ("worker without command", "[server]\nlisten = 127.0.0.1:1\n[worker w1]\nprocesses = 2\n", 3,
     r"\[worker w1\]: command is required"),
    ("worker section without keys", "[worker lonely]\n", 1,
     r"\[worker lonely\]: command is required"),
    ("bad worker name", "[worker a/b]\ncommand = true\n", 1,
     r"\[worker a/b\]: a worker name is 1-64 of \[A-Za-z0-9._-\]"),
    ("bad processes", "[worker w]\ncommand = true\nprocesses = 0\n", 3,
     r"\[worker w\] processes: '0' is not a number from 1 to 256"),
    ("processes not a number", "[worker w]\ncommand = true\nprocesses = many\n", 3,
     r"\[worker w\] processes: 'many' is not a number from 1 to 256"),
    ("bad environment", "[worker w]\ncommand = true\nenvironment = NOEQUALS\n", 3,
     r"\[worker w\] environment: 'NOEQUALS' is not NAME=VALUE"),
    ("unknown worker key", "[worker w]\ncommand = true\nrestart = always\n", 3,
     r"\[worker w\] restart: unknown key \(allowed: command, processes, namespaces, "
     r"environment, directory, user\)"),
    ("syntax error", "[server]\nlisten on all addresses\n", 2,
     r"syntax error \(expected \[section\], key = value or a ; comment\)"),
    ("unclosed section header", "[server\nlisten = 127.0.0.1:80\n", 1, r"syntax error"),
    ("line too long", "[worker w]\ncommand = " + "x" * 300 + "\n", 2,
     r"line too long \(at most 199 characters\)"),
    ("the first error is reported, not a later one", "[server]\nnope = 1\n[log]\nlevel = loud\n",
     2, r"\[server\] nope: unknown key"),
    ("a syntax error before another error is reported as such",
     "[server]\nwhat is this\n[log]\nlevel = loud\n", 2, r"syntax error"),
]


def check_errors():
    for name, text, line, rx in ERRORS:
        path = write("err.conf", text)
        rc, out, err = run("--check-config", "--config", path)
        want = r"^siogate: %s:%d: (\[[^]]+\] [a-z_]+: )?%s" % (re.escape(path), line, rx)
        good = rc == 78 and re.search(want, err.strip()) is not None and out == ""
        ok(good, "%s: exit 78 with '%s:%d: ...'" % (name, os.path.basename(path), line) +
           ("" if good else " (exit %d, stderr %r)" % (rc, err.strip())))
    # Files that cannot be read.
    missing = os.path.join(TMP, "no-such.conf")
    rc, out, err = run("--check-config", "--config", missing)
    ok(rc == 78 and re.search(r"^siogate: %s: cannot read: No such file or directory$" %
                              re.escape(missing), err.strip()),
       "a missing --config file: exit 78, 'cannot read: No such file or directory'")
    rc, out, err = run("--check-config", "--config", TMP)
    ok(rc == 78 and "cannot read: Is a directory" in err,
       "a directory as --config: exit 78, 'cannot read: Is a directory' (%r)" % err.strip())
    if os.geteuid() != 0:
        path = write("secret.conf", "[server]\n")
        os.chmod(path, 0)
        rc, out, err = run("--check-config", "--config", path)
        ok(rc == 78 and "cannot read: Permission denied" in err,
           "an unreadable file: exit 78, 'cannot read: Permission denied'")
    else:
        ok(True, "an unreadable file # SKIP running as root, which reads any file")
    # A bad value on the command line is a usage error.
    rc, out, err = run("--check-config", "--config", "/dev/null", "--ping-interval", "5s")
    ok(rc == 64 and "invalid value for --ping-interval: '5s' is not a number" in err,
       "a bad command-line value: exit 64 naming the flag (%r)" % err.strip())
    rc, out, err = run("--check-config", "--no-such-flag")
    ok(rc == 64 and "--no-such-flag" in err, "an unknown flag: exit 64")
    # The format: comments, inline comments, continuation lines, "key: value".
    path = write("fmt.conf", "\ufeff# hash comment\n; semicolon comment\n[server]\n"
                 "listen = 127.0.0.1:1 ; inline\n  127.0.0.1:2\ncors_origin: https://x.example\n"
                 "[server]\nmax_url = 100\n")
    rc, out, err = run("--check-config", "--config", path)
    got = parse_conf(out)
    ok(rc == 0 and got.get("server listen") == ["127.0.0.1:1", "127.0.0.1:2"] and
       got.get("server cors_origin") == ["https://x.example"] and got.get("server max_url") == ["100"],
       "BOM, comments, an inline comment, a continuation line, 'key: value' and a repeated "
       "section are read as siogate.conf(5) says (%s)" % (err.strip() or "ok"))


def check_cli_over_file():
    path = write("base.conf", "[server]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
                 "cors_origin = https://x.example\n[engineio]\nping_interval = 1000\n"
                 "[log]\nlevel = warn\n")
    rc, out, err = run("--check-config", "--config", path, "--ping-interval", "2000",
                       "--listen", "127.0.0.1:3", "--log-level", "debug")
    got = parse_conf(out)
    ok(rc == 0 and got.get("engineio ping_interval") == ["2000"],
       "a flag overrides the file's value (ping_interval 2000)")
    ok(got.get("server listen") == ["127.0.0.1:3"],
       "a repeatable flag replaces the file's whole list (listen: %r)" % got.get("server listen"))
    ok(got.get("server cors_origin") == ["https://x.example"] and got.get("log level") == ["debug"],
       "options not given on the command line keep the file's values")
    rc, out, err = run("--check-config", "--config", path, "--listen", "127.0.0.1:4",
                       "--listen", "127.0.0.1:5")
    ok(parse_conf(out).get("server listen") == ["127.0.0.1:4", "127.0.0.1:5"],
       "several flags of a list add up")
    rc, out, err = run("--check-config", "--config", path, "--max-payload", "2000000",
                       "--max-output", "4096")
    ok(parse_conf(out).get("server max_output") == ["2001024"],
       "max_output below max_payload + 1024 is raised to it")


class Gw(Proc):
    """siogate started on a file, its log read as it comes (tap.Proc)."""

    def __init__(self, conf):
        super().__init__([SIOGATE, "--config", conf], "siogate")

    def wait(self, rx, deadline=10, start=0):
        """Index of the first line from start matching rx, or None."""
        return self.find(rx, deadline, start)[0]

    def stop(self):
        return super().stop(deadline=10)


def man_reload():
    """{"section key": "applied"|"restart"} from the Reload: entries of siogate.conf(5)."""
    text = open(os.path.join(TOP, "man", "siogate.conf.5")).read().splitlines()
    out, sec, key, i = {}, None, None, 0
    while i < len(text):
        line = text[i]
        m = re.match(r'^\.Ss \[(\w+)\]$', line)
        if m:
            sec = m.group(1)
        m = re.match(r'^\.It Cm (\w+)', line)
        if m:
            key = m.group(1)
        if line == ".It Reload:" and i + 1 < len(text):
            out["%s %s" % (sec, key)] = "applied" if text[i + 1].startswith("applied") else \
                "restart" if text[i + 1].startswith("restart") else text[i + 1]
        i += 1
    return out


def check_reload(opts):
    """Start on a minimal file, then SIGHUP with every option changed."""
    base = "[server]\nlisten = 127.0.0.1:0\n[bridge]\nendpoint = ipc://%s/reload.sock\n" % TMP
    path = write("reload.conf", base)
    gw = Gw(path)
    try:
        if gw.wait(r"listening on 127\.0\.0\.1:\d+") is None:
            ok(False, "gateway started for the reload test: %r" % gw.lines[-5:])
            return
        with open(path, "w") as f:
            f.write(all_file(opts, with_workers=False))
        n = len(gw.lines)
        gw.p.send_signal(signal.SIGHUP)
        end = gw.wait(r"reload done", start=n)
        ok(end is not None, "SIGHUP with every option changed: 'reload done'")
        if end is None:
            return
        log = gw.lines[n:end + 1]
        applied = {m.group(1) for m in (re.search(r"reload: ([a-z0-9-]+): .* -> ", l) for l in log) if m}
        kept = {m.group(1) for m in (re.search(r"reload: ([a-z0-9-]+) cannot change while running",
                                               l) for l in log) if m}
        man = man_reload()
        for cli, sec, key in opts:
            doc = man.get("%s %s" % (sec, key))
            have = "applied" if cli in applied else "restart" if cli in kept else "not logged"
            ok(doc == have, "--%s: the reload log says '%s', siogate.conf(5) says '%s'"
               % (cli, have, doc))
        ok(any(re.search(r"<6>siogate: reload: log-level: info -> debug", l) for l in log),
           "the reload logs 'reload: log-level: info -> debug'")
        ok(any("reload: cors-origin: (not set) -> https://a.example.com, http://b.example.com:8080"
               in l for l in log), "the reload logs the new CORS origins")
        # Now the log is JSON (format = json was applied); a broken file is refused.
        with open(path, "w") as f:
            f.write(all_file(opts, with_workers=False) + "\n[log]\nlevel = shout\n")
        n = len(gw.lines)
        gw.p.send_signal(signal.SIGHUP)
        i = gw.wait(r"keeping the running one", start=n)
        ok(i is not None and gw.lines[i].startswith('{"time":'),
           "after format = json was applied, the log is JSON lines")
        ok(any(re.search(r"reload.conf:\d+: \[log\] level: 'shout' is not one of", l)
               for l in gw.lines[n:(i or n) + 1]),
           "a broken file on SIGHUP is reported with file:line")
        ok(gw.p.poll() is None, "the gateway keeps running after a rejected reload")
    finally:
        ok(gw.stop() == 0, "the gateway exits 0 on SIGTERM")


def main():
    if not SIOGATE or not os.access(SIOGATE, os.X_OK):
        print("1..0 # SKIP SIOGATE is not set to the gateway binary")
        return
    opts = list_options()
    ok(len(opts) > 20, "--list-options lists the options (%d)" % len(opts))
    default_out = check_defaults()
    check_dist(default_out)
    check_all(opts)
    check_errors()
    check_cli_over_file()
    check_reload(opts)
    shutil.rmtree(TMP, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
