#!/usr/bin/env python3
"""Load and fault test of Matchwell, on loopback only, with every loop bounded.

Concurrent clients register (and verify with the token from the outbox), log in, save their
answers and profile, search, ask for introductions, read their matches and reveal themselves,
while a `matchwell serve` process is killed with SIGKILL and restarted every few seconds.
Scenarios:

  sqlite        one `serve` on SQLite
  postgres      one `serve` on PostgreSQL (a fresh database, dropped afterwards)
  postgres-two  two `serve` processes on two ports sharing one PostgreSQL database, killed
                and restarted one at a time, the clients spread over both

Afterwards the script checks against the database and the outbox that no acknowledged write
was lost, that no match or email is duplicated and that no 5xx was seen outside a restart
window (from the kill until the restarted server answers /healthz, plus a grace), prints the
figures and exits 1 on any violation (2 when the run could not be set up).

Python 3 standard library only. Every request goes to 127.0.0.1; PostgreSQL must be on a
loopback address too. Usually run through scripts/load-and-fault.sh, which finds the binary
and the PostgreSQL URL:

  scripts/load-and-fault.py --scenario sqlite --binary target/release/matchwell
  scripts/load-and-fault.py --scenario postgres-two --binary target/release/matchwell \\
      --pg-url postgres://postgres@127.0.0.1:5432
"""

import argparse
import collections
import email
import email.policy
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
KINDS = ["sme", "health_org", "academic", "other"]
IMPORTANCE_CYCLE = ["a_little", "somewhat", "very"]
DEMO_PASSWORD = "matchwell-demo"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def demo_email(seed, i):
    # crates/cli/src/demo.rs: demo_email
    return f"demo-{seed}-{i}@matchwell-demo.example"


def now():
    return time.monotonic()


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)


# ---------------------------------------------------------------------------------------------
# HTTP, loopback only


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is answered as it is, never followed


# No proxy from the environment may carry a request off this machine, and no redirect is followed.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Resp:
    __slots__ = ("status", "body", "error", "t0", "t1", "port", "method", "label")

    def __init__(self, port, method, label, t0):
        self.status = None
        self.body = None
        self.error = None
        self.t0 = t0
        self.t1 = t0
        self.port = port
        self.method = method
        self.label = label

    @property
    def failed(self):
        """No answer, or a 5xx: the request may or may not have taken effect."""
        return self.error is not None or (self.status is not None and self.status >= 500)

    @property
    def ok(self):
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def field_errors(self):
        if isinstance(self.body, dict):
            return ((self.body.get("error") or {}).get("fields")) or {}
        return {}

    def describe(self):
        if self.error:
            return f"{self.method} {self.label} on :{self.port}: {self.error}"
        snippet = json.dumps(self.body)[:300] if self.body is not None else ""
        return f"{self.method} {self.label} on :{self.port}: {self.status} {snippet}"


def http_call(port, method, path, body=None, token=None, timeout=30.0, label=None):
    url = f"http://127.0.0.1:{port}{path}"
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1"
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    resp = Resp(port, method, label or path, now())
    raw = b""
    try:
        with OPENER.open(request, timeout=timeout) as answer:
            resp.status = answer.status
            raw = answer.read()
    except urllib.error.HTTPError as error:
        resp.status = error.code
        try:
            raw = error.read()
        except (OSError, http.client.HTTPException) as inner:
            resp.error = f"reading the error body: {inner!r}"
    except (urllib.error.URLError, OSError, http.client.HTTPException, socket.timeout) as error:
        resp.error = repr(getattr(error, "reason", error))
    resp.t1 = now()
    if raw:
        try:
            resp.body = json.loads(raw)
        except ValueError:
            resp.body = raw[:200].decode("utf-8", "replace")
    return resp


# ---------------------------------------------------------------------------------------------
# Processes


class Server:
    """One `matchwell serve` process that the script starts, kills and restarts."""

    def __init__(self, run, name, port, env):
        self.run = run
        self.name = name
        self.port = port
        self.env = env
        self.proc = None
        self.starts = 0
        self.log_paths = []

    def start(self):
        self.starts += 1
        path = os.path.join(self.run.work, f"serve-{self.name}-{self.starts}.log")
        self.log_paths.append(path)
        with open(path, "wb") as out:
            self.proc = subprocess.Popen(
                [self.run.args.binary, "serve"],
                env=self.env,
                cwd=self.run.work,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.run.started.append(self.proc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        """Graceful stop (SIGTERM), then SIGKILL after 15 s."""
        if not self.alive():
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def wait_healthy(self, timeout):
        deadline = now() + timeout
        for _ in range(int(timeout / 0.05) + 1):
            if now() > deadline:
                return False
            if not self.alive():
                return False
            r = http_call(self.port, "GET", "/healthz", timeout=2.0)
            if r.status == 200:
                return True
            time.sleep(0.05)
        return False


class Database:
    """Read-only checks against SQLite (sqlite3) or PostgreSQL (psql -At)."""

    def __init__(self, sqlite_path=None, pg_url=None):
        self.sqlite_path = sqlite_path
        self.pg_url = pg_url

    def rows(self, sql):
        if self.sqlite_path:
            connection = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
            try:
                return [tuple("" if v is None else str(v) for v in row) for row in connection.execute(sql)]
            finally:
                connection.close()
        out = subprocess.run(
            ["psql", "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", self.pg_url, "-c", sql],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return [tuple(line.split("\x1f")) for line in out.stdout.splitlines() if line != ""]


def psql_admin(admin_url, sql):
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", admin_url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed on {sql!r}: {out.stderr.strip()}")
    return out.stdout


# ---------------------------------------------------------------------------------------------
# The outbox


class Outbox:
    """The .eml files the server wrote, parsed once each."""

    def __init__(self, directory):
        self.directory = directory
        self.files = {}  # name -> dict
        self.lock = threading.Lock()
        self.last_scan = 0.0

    def scan(self, force=False):
        with self.lock:
            if not force and now() - self.last_scan < 0.2:
                return
            self.last_scan = now()
            try:
                names = os.listdir(self.directory)
            except FileNotFoundError:
                return
            for name in names:
                if not name.endswith(".eml") or name in self.files:
                    continue
                path = os.path.join(self.directory, name)
                try:
                    with open(path, "rb") as handle:
                        raw = handle.read()
                    mtime = os.stat(path).st_mtime
                except FileNotFoundError:
                    continue
                self.files[name] = parse_eml(name, raw, mtime)

    def verification_tokens(self, recipient):
        """Tokens of the verification emails to `recipient`, newest first."""
        self.scan()
        with self.lock:
            found = [f for f in self.files.values() if f["to"] == recipient and f["token"] and f["key"].startswith("verify-")]
        found.sort(key=lambda f: f["mtime"], reverse=True)
        return [f["token"] for f in found]


def parse_eml(name, raw, mtime):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(part.get_content())
            except (LookupError, ValueError):
                texts.append(part.get_payload())
    plain = "\n".join(texts)
    tokens = sorted(set(re.findall(r"token=([0-9A-Za-z_\-]+)", plain)))
    # What makes two files the same message: everything but the headers that name the file.
    canonical = "\n".join(
        [str(message.get("To", "")), str(message.get("Subject", "")), plain]
    )
    return {
        "name": name,
        "key": name[: -len(".eml")],
        "to": str(message.get("To", "")).strip().lower().strip("<>"),
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")),
        "token": tokens[0] if tokens else None,
        "tokens": tokens,
        "mtime": mtime,
        "content": hashlib.sha256(canonical.encode()).hexdigest(),
    }


# ---------------------------------------------------------------------------------------------
# The run of one scenario


class Member:
    def __init__(self, email_address, password, demo, name=None, kind=None):
        self.email = email_address
        self.password = password
        self.demo = demo
        self.name = name
        self.kind = kind
        self.token = None
        self.verified = demo
        self.answer_writes = []  # [{"expected": {...}, "state": ack|maybe|rejected}]
        self.profile_writes = []  # [{"description": ..., "state": ...}]
        self.writes = 0


class Window:
    def __init__(self, port, start):
        self.port = port
        self.start = start
        self.end = None  # still open

    def overlaps(self, t0, t1):
        return t1 >= self.start and (self.end is None or t0 <= self.end)


class Run:
    def __init__(self, args, scenario):
        self.args = args
        self.scenario = scenario
        self.tag = f"{scenario.replace('-', '')}{os.getpid()}{random.randrange(1000, 9999)}"
        self.work = tempfile.mkdtemp(prefix=f"matchwell-lf-{scenario}-", dir=args.work_root)
        os.chmod(self.work, 0o700)
        self.data_dir = os.path.join(self.work, "data")
        os.makedirs(self.data_dir, mode=0o700)
        self.outbox = Outbox(os.path.join(self.data_dir, "outbox"))
        self.started = []  # every Popen, so that all are ended on exit
        self.servers = []
        self.lock = threading.Lock()
        self.windows = []
        self.up = {}
        self.stop = threading.Event()
        self.records = []  # (t0, t1, port, method, label, status, error)
        self.acks = []  # dicts
        self.unacked = collections.Counter()
        self.rejected = []  # unexpected 4xx on writes
        self.limited = collections.Counter()
        self.refusals = collections.Counter()
        self.retries = collections.Counter()
        self.notes = collections.Counter()
        self.members = []
        self.violations = []
        self.restarts = 0
        self.pg_admin = None
        self.pg_db = None
        self.db = None
        self.questionnaire = None
        self.taxonomy = None
        self.failed = False

    # --- bookkeeping --------------------------------------------------------------------------

    def record(self, resp):
        with self.lock:
            self.records.append((resp.t0, resp.t1, resp.port, resp.method, resp.label, resp.status, resp.error))

    def ack(self, kind, **data):
        with self.lock:
            self.acks.append(dict(kind=kind, t=now(), **data))

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
        log("VIOLATION:", text)

    def note(self, what, n=1):
        with self.lock:
            self.notes[what] += n

    def in_window(self, port, t0, t1):
        return any(w.port == port and w.overlaps(t0, t1) for w in self.windows)

    # --- servers ------------------------------------------------------------------------------

    def base_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHWELL_") and not k.lower().endswith("_proxy")}
        env.update(
            {
                "MATCHWELL_DATA_DIR": self.data_dir,
                "RUST_LOG": self.args.rust_log,
                # Every client is 127.0.0.1: the per-client limits would otherwise throttle the
                # load itself. Per-member limits (asks a day) stay as they are.
                "MATCHWELL_LIMIT_REGISTRATIONS": "1000000",
                "MATCHWELL_LIMIT_CLIENT_FAILURES": "1000000",
                "MATCHWELL_LIMIT_LOGIN_FAILURES": "1000",
                "MATCHWELL_LIMIT_EMAIL_REQUESTS": "1000",
                "MATCHWELL_LIMIT_SEARCHES": "1000000",
            }
        )
        if self.pg_db:
            env["MATCHWELL_DATABASE_URL"] = self.pg_db_url
        return env

    def command(self, *argv, timeout=600):
        env = self.base_env()
        env["MATCHWELL_BIND"] = f"127.0.0.1:{self.args.ports[0]}"
        proc = subprocess.Popen(
            [self.args.binary, *argv], env=env, cwd=self.work, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.started.append(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f"`matchwell {' '.join(argv)}` took over {timeout} s")
        if proc.returncode != 0:
            raise RuntimeError(f"`matchwell {' '.join(argv)}` failed ({proc.returncode}): {out[-2000:]}")
        return out

    def setup(self):
        args = self.args
        if self.scenario.startswith("postgres"):
            parsed = urllib.parse.urlsplit(args.pg_url)
            if parsed.scheme not in ("postgres", "postgresql") or parsed.hostname not in LOOPBACK_HOSTS:
                raise RuntimeError(f"the PostgreSQL URL must be postgres:// on a loopback address: {args.pg_url}")
            base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, "", "", ""))
            self.pg_admin = f"{base}/postgres"
            self.pg_db = f"mw_lf_{self.tag}"
            self.pg_db_url = f"{base}/{self.pg_db}"
            psql_admin(self.pg_admin, f"CREATE DATABASE {self.pg_db}")
            self.db = Database(pg_url=self.pg_db_url)
        else:
            self.db = Database(sqlite_path=os.path.join(self.data_dir, "matchwell.db"))
        log(f"[{self.scenario}] work dir {self.work}" + (f", database {self.pg_db}" if self.pg_db else ""))
        self.command("migrate")
        out = self.command("demo-data", "--orgs", str(args.orgs), "--seed", str(args.seed))
        log(f"[{self.scenario}] {out.strip().splitlines()[-1] if out.strip() else 'demo data'}")
        self.command("score")
        count = 2 if self.scenario == "postgres-two" else 1
        for i in range(count):
            env = self.base_env()
            env["MATCHWELL_BIND"] = f"127.0.0.1:{args.ports[i]}"
            server = Server(self, "AB"[i], args.ports[i], env)
            server.start()
            # One after the other, so that the first creates the shared secret in the data dir.
            if not server.wait_healthy(args.start_timeout):
                raise RuntimeError(f"serve {server.name} on :{server.port} did not answer /healthz")
            self.servers.append(server)
            self.up[server.port] = threading.Event()
            self.up[server.port].set()
        q = http_call(args.ports[0], "GET", "/api/v1/questionnaire")
        t = http_call(args.ports[0], "GET", "/api/v1/taxonomy")
        if not (q.ok and t.ok):
            raise RuntimeError(f"catalogue not readable: {q.describe()} / {t.describe()}")
        self.questionnaire = q.body
        self.taxonomy = t.body

    def cleanup(self):
        self.stop.set()
        for proc in self.started:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        if self.pg_db and not self.args.keep:
            try:
                psql_admin(self.pg_admin, f"DROP DATABASE IF EXISTS {self.pg_db} WITH (FORCE)")
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                log(f"could not drop {self.pg_db}: {error}")
        if not self.args.keep and not self.failed:
            shutil.rmtree(self.work, ignore_errors=True)
        elif os.path.isdir(self.work):
            log(f"[{self.scenario}] logs and outbox kept in {self.work}")

    # --- the fault injector -------------------------------------------------------------------

    def killer(self, load_deadline):
        rng = random.Random(self.args.seed * 7919 + len(self.scenario))
        for i in range(self.args.max_restarts):
            pause = rng.uniform(self.args.kill_min, self.args.kill_max)
            if self.stop.wait(pause) or now() + 1.0 > load_deadline:
                return
            server = self.servers[i % len(self.servers)]
            if not server.alive():
                self.violation(f"serve {server.name} on :{server.port} exited on its own (code {server.proc.returncode})")
            window = Window(server.port, now())
            with self.lock:
                self.windows.append(window)
            self.up[server.port].clear()
            server.kill9()
            if self.args.down_max > 0:
                time.sleep(rng.uniform(0, self.args.down_max))
            server.start()
            healthy = server.wait_healthy(self.args.start_timeout)
            window.end = now() + self.args.grace
            self.restarts += 1
            if not healthy:
                self.violation(f"serve {server.name} on :{server.port} did not answer /healthz within "
                               f"{self.args.start_timeout} s of its restart")
                self.stop.set()
                return
            self.up[server.port].set()
            log(f"[{self.scenario}] restart {self.restarts}: serve {server.name} on :{server.port} "
                f"back after {now() - window.start:.2f} s")

    # --- the load -----------------------------------------------------------------------------

    def run_load(self):
        args = self.args
        load_deadline = now() + args.duration
        self.hard_deadline = load_deadline + args.overrun
        self.load_end = load_deadline
        killer = threading.Thread(target=self.killer, args=(load_deadline,), daemon=True)
        clients = [threading.Thread(target=Client(self, i, load_deadline).main, daemon=True) for i in range(args.threads)]
        killer.start()
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=max(1.0, self.hard_deadline + 30 - now()))
            if c.is_alive():
                self.violation("a client thread did not finish in time (hung request?)")
        self.stop.set()
        killer.join(timeout=args.start_timeout + 30)
        for server in self.servers:
            if not server.alive():
                self.violation(f"serve {server.name} is not running after the load")
                server.start()
                server.wait_healthy(args.start_timeout)
        log(f"[{self.scenario}] load done; letting the servers flush for {args.flush} s")
        time.sleep(args.flush)
        # Bounded wait for the queue to drain (emails claimed by a killed process wait out their claim).
        for _ in range(int(args.drain / 0.5)):
            pending = self.unsent_emails()
            if pending == 0:
                break
            time.sleep(0.5)
        for server in self.servers:
            server.stop()
        self.outbox.scan(force=True)

    def unsent_emails(self):
        try:
            return int(self.db.rows("SELECT COUNT(*) FROM email_queue WHERE sent_at IS NULL")[0][0])
        except (RuntimeError, sqlite3.Error, IndexError, ValueError):
            return -1


class Client:
    def __init__(self, run, tid, deadline):
        self.run = run
        self.args = run.args
        self.tid = tid
        self.deadline = deadline
        self.rng = random.Random(run.args.seed * 1000 + tid)
        self.members = []
        self.registered = 0
        ports = run.args.ports[: len(run.servers)]
        self.home = ports[tid % len(ports)]
        for k in range(run.args.demo_per_thread):
            i = tid + k * run.args.threads
            if i < run.args.orgs:
                self.members.append(Member(demo_email(run.args.seed, i), DEMO_PASSWORD, demo=True))
        with run.lock:
            run.members.extend(self.members)

    # --- transport ----------------------------------------------------------------------------

    def port(self):
        if self.run.up[self.home].is_set():
            return self.home
        for port, event in self.run.up.items():
            if event.is_set():
                return port
        return self.home

    def wait_for_server(self):
        """After a failure: wait (bounded) until some server is up."""
        limit = now() + self.args.start_timeout + 10
        for _ in range(1000):
            if now() > limit or now() > self.run.hard_deadline:
                return
            if any(e.is_set() for e in self.run.up.values()):
                time.sleep(self.rng.uniform(0.05, 0.25))
                return
            time.sleep(0.1)

    def call(self, method, path, body=None, member=None, label=None):
        r = http_call(self.port(), method, path, body, member.token if member else None, label=label)
        self.run.record(r)
        return r

    def send(self, kind, method, path, body=None, member=None, label=None, write=True):
        """A request retried after a failure (no answer or 5xx) until it is answered, at most
        `write_attempts` times; (the final answer or None, how many attempts failed)."""
        failed = 0
        relogged = False
        for _ in range(self.args.write_attempts):
            if now() > self.run.hard_deadline:
                break
            r = self.call(method, path, body, member, label)
            if r.failed:
                failed += 1
                with self.run.lock:
                    self.run.retries[kind] += 1
                self.wait_for_server()
                continue
            if r.status == 401 and member is not None and not relogged and kind != "login":
                relogged = True
                self.run.note("re-login after 401")
                if not self.login(member):
                    return r, failed
                continue
            if r.status == 429:
                with self.run.lock:
                    self.run.limited[kind] += 1
            return r, failed
        if write:
            with self.run.lock:
                self.run.unacked[kind] += 1
        return None, failed

    def unexpected(self, kind, r):
        with self.run.lock:
            self.run.rejected.append(f"{kind}: {r.describe()}")

    def refused(self, kind, r):
        """An answer that the contract allows here (a cap or a limit), counted apart."""
        code = ((r.body or {}).get("error") or {}).get("code") if isinstance(r.body, dict) else None
        with self.run.lock:
            self.run.refusals[f"{kind} {r.status} {code}"] += 1

    # --- flows --------------------------------------------------------------------------------

    def login(self, m):
        r, _ = self.send("login", "POST", "/api/v1/auth/login", {"email": m.email, "password": m.password},
                         label="/auth/login", write=False)
        if r is not None and r.ok and isinstance(r.body, dict):
            m.token = r.body.get("access_token")
            return bool(m.token)
        if r is not None and r.status != 429:
            self.unexpected("login", r)
        return False

    def register(self):
        self.registered += 1
        n = self.registered
        m = Member(
            f"lf-{self.run.tag}-{self.tid}-{n}@loadfault.example",
            f"lf-pass-{uuid.uuid4().hex[:16]}",
            demo=False,
            name=f"Loadfault {self.tid}-{n} Partners",
            kind=KINDS[(self.tid + n) % len(KINDS)],
        )
        body = {"email": m.email, "password": m.password, "organisation_name": m.name, "kind": m.kind}
        r, failed = self.send("register", "POST", "/api/v1/auth/register", body, label="/auth/register")
        if r is None:
            with self.run.lock:
                self.run.members.append(m)  # may exist; not checked as acknowledged
            return None
        if r.status != 201:
            self.unexpected("register", r)
            return None
        self.run.ack("register", email=m.email, name=m.name, org_kind=m.kind, retried=failed)
        with self.run.lock:
            self.run.members.append(m)
        if not self.verify(m):
            return None
        self.members.append(m)
        return m

    def verify(self, m):
        tried = set()
        started = now()
        resent = False
        for _ in range(400):
            if now() - started > self.args.mail_wait or now() > self.run.hard_deadline:
                break
            fresh = [t for t in self.run.outbox.verification_tokens(m.email) if t not in tried]
            if not fresh:
                if not resent and now() - started > self.args.mail_wait / 2:
                    resent = True
                    self.run.note("verification email resent (none arrived in time)")
                    r, _ = self.send("resend", "POST", "/api/v1/auth/resend-verification", {"email": m.email},
                                     label="/auth/resend-verification", write=False)
                    if r is not None and r.status != 202:
                        self.unexpected("resend", r)
                time.sleep(0.2)
                continue
            token = fresh[0]
            tried.add(token)
            r, failed = self.send("verify", "POST", "/api/v1/auth/verify", {"token": token, "password": m.password},
                                  label="/auth/verify")
            if r is not None and r.ok:
                m.verified = True
                self.run.ack("verify", email=m.email, retried=failed)
                return True
            if r is None or (failed and r.status == 422):
                # Maybe the unanswered attempt went through: logging in tells.
                if self.login(m):
                    m.verified = True
                    self.run.note("verification confirmed by login after an unanswered attempt")
                    return True
                continue
            if r.status == 422:
                continue  # a token replaced by a later (retried) registration
            self.unexpected("verify", r)
            return False
        self.run.note("registration never verified (no working link in time)")
        return False

    def answers_body(self, write_no):
        answers = []
        i = 0
        for section in self.run.questionnaire["sections"]:
            for question in section["questions"]:
                first = question["options"][0]["id"]
                answers.append({
                    "question_id": question["id"],
                    "answer": first,
                    "acceptable": [first],
                    "importance": IMPORTANCE_CYCLE[(i + write_no) % len(IMPORTANCE_CYCLE)],
                })
                i += 1
        return answers

    def save_answers(self, m):
        m.writes += 1
        answers = self.answers_body(m.writes + self.tid)
        expected = {a["question_id"]: (a["answer"], tuple(a["acceptable"]), a["importance"]) for a in answers}
        entry = {"expected": expected, "state": "maybe"}
        m.answer_writes.append(entry)
        r, failed = self.send("answers", "PUT", "/api/v1/me/answers", {"answers": answers}, m, label="/me/answers")
        if r is None:
            return
        if r.ok:
            entry["state"] = "ack"
            self.run.ack("answers", email=m.email, retried=failed)
        else:
            entry["state"] = "maybe" if failed else "rejected"
            self.unexpected("answers", r)

    def save_profile(self, m):
        tax = self.run.taxonomy
        pick = lambda key: self.rng.choice(tax[key])["id"]
        marker = f"load-and-fault write {uuid.uuid4()}"
        body = {
            "description": marker,
            "anonymous_summary": "We test new care pathways with frontline clinical teams.",
            "sectors": [pick("sectors")],
            "region": pick("regions"),
            "size_band": pick("size_bands"),
            "innovation_stage": pick("innovation_stages"),
            "capabilities_offered": [pick("capabilities")],
            "capabilities_sought": [pick("capabilities")],
            "seeking_kinds": list(KINDS),
        }
        entry = {"description": marker, "state": "maybe"}
        m.profile_writes.append(entry)
        r, failed = self.send("profile", "PUT", "/api/v1/me/profile", body, m, label="/me/profile")
        if r is None:
            return
        if r.ok:
            entry["state"] = "ack"
            self.run.ack("profile", email=m.email, retried=failed)
        else:
            entry["state"] = "maybe" if failed else "rejected"
            self.unexpected("profile", r)

    def search(self, m):
        query = "?page=1" if self.rng.random() < 0.7 else "?page=1&q=care"
        r, _ = self.send("search", "GET", "/api/v1/search" + query, member=m, label="/search", write=False)
        if r is None or not r.ok:
            if r is not None and r.status != 429:
                self.unexpected("search", r)
            return
        results = (r.body or {}).get("results") or []
        if results and self.rng.random() < self.args.ask_share:
            card = self.rng.choice(results[:5])
            ask, failed = self.send("ask", "POST", f"/api/v1/search/{card['ref']}/ask", member=m, label="/search/{ref}/ask")
            if ask is None:
                return
            if ask.ok and isinstance(ask.body, dict) and ask.body.get("id"):
                self.run.ack("ask", email=m.email, match_id=ask.body["id"], created=ask.status == 201, retried=failed)
            elif ask.status in (404, 409, 429):
                self.refused("ask", ask)  # gone, the open-match cap, or the daily limit
            else:
                self.unexpected("ask", ask)

    def matches(self, m):
        r, _ = self.send("matches", "GET", "/api/v1/matches", member=m, label="/matches", write=False)
        if r is None or not r.ok:
            if r is not None:
                self.unexpected("matches", r)
            return
        listed = (r.body or {}).get("matches") or []
        suggested = [x for x in listed if x.get("my_status") == "suggested"]
        # Prefer a match whose other side revealed itself already, so that some pairs connect.
        suggested.sort(key=lambda x: (x.get("their_status") != "revealed", not x.get("asked_by_them")))
        if suggested and self.rng.random() < self.args.reveal_share:
            target = suggested[0]["id"]
            rev, failed = self.send("reveal", "POST", f"/api/v1/matches/{target}/reveal", member=m,
                                    label="/matches/{id}/reveal")
            if rev is not None:
                if rev.ok:
                    self.run.ack("reveal", email=m.email, match_id=target, retried=failed)
                else:
                    self.unexpected("reveal", rev)
        if listed:
            one = self.rng.choice(listed)["id"]
            g, _ = self.send("match", "GET", f"/api/v1/matches/{one}", member=m, label="/matches/{id}", write=False)
            if g is not None and not g.ok and g.status != 404:
                self.unexpected("match", g)

    def main(self):
        try:
            for it in range(self.args.iterations):
                if now() > self.deadline or self.run.stop.is_set():
                    break
                if it % self.args.register_every == 0 or not self.members:
                    m = self.register()
                else:
                    m = self.rng.choice(self.members)
                if m is None:
                    continue
                if not m.token and not self.login(m):
                    continue
                if not m.answer_writes or self.rng.random() < 0.5:
                    self.save_answers(m)
                if not m.profile_writes or self.rng.random() < 0.5:
                    self.save_profile(m)
                self.search(m)
                self.matches(m)
        except Exception as error:  # a bug of this script: reported, not hidden
            self.run.violation(f"client {self.tid} crashed: {error!r}")
            raise


# ---------------------------------------------------------------------------------------------
# Checks


def check(run):
    db = run.db
    acks = run.acks
    figures = collections.OrderedDict()
    lost = []
    duplicates = []

    accounts = {}
    for email_address, org_id, verified, public_id in db.rows(
        "SELECT email, organisation_id, CASE WHEN verified_at IS NULL THEN 0 ELSE 1 END, public_id FROM accounts"
    ):
        accounts[email_address] = (org_id, verified == "1", public_id)
    organisations = {}
    for org_id, name, kind, description in db.rows(
        "SELECT id, name, kind, COALESCE(description, '') FROM organisations"
    ):
        organisations[org_id] = (name, kind, description)
    ours = {accounts[m.email][0] for m in run.members if m.email in accounts}
    answers = collections.defaultdict(dict)
    for org_id, question, answer, acceptable, importance in db.rows(
        "SELECT organisation_id, question_id, answer, acceptable, importance FROM answers"
    ):
        if org_id in ours:
            try:
                accepted = tuple(json.loads(acceptable))
            except ValueError:
                accepted = (acceptable,)
            answers[org_id][question] = (answer, accepted, importance)
    matches = {}
    pairs = collections.Counter()
    for match_id, low, high, connected in db.rows(
        "SELECT id, org_low, org_high, CASE WHEN connected_at IS NULL THEN 0 ELSE 1 END FROM matches"
    ):
        matches[match_id] = (low, high, connected == "1")
        pairs[(low, high)] += 1
    parties = collections.defaultdict(dict)
    for match_id, org_id, status in db.rows("SELECT match_id, organisation_id, status FROM match_parties"):
        parties[match_id][org_id] = status
    queue = []
    for key, recipient, sent, attempts in db.rows(
        "SELECT idempotency_key, recipient, CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END, attempts FROM email_queue"
    ):
        queue.append((key, recipient, sent == "1", int(attempts)))

    # Acknowledged registrations and verifications.
    for a in acks:
        if a["kind"] == "register":
            found = accounts.get(a["email"])
            if found is None:
                lost.append(f"register {a['email']}: no account")
            elif found[0] not in organisations:
                lost.append(f"register {a['email']}: no organisation")
            else:
                name, kind, _ = organisations[found[0]]
                if (name, kind) != (a["name"], a["org_kind"]):
                    lost.append(f"register {a['email']}: organisation is {name!r}/{kind}, wrote {a['name']!r}/{a['org_kind']}")
        elif a["kind"] == "verify":
            found = accounts.get(a["email"])
            if found is None or not found[1]:
                lost.append(f"verify {a['email']}: account not verified")

    # Answers and profiles: the stored state is that of the last acknowledged write, or of a
    # later write that was never answered (and so may have been applied).
    for m in run.members:
        if m.email not in accounts:
            continue
        org_id = accounts[m.email][0]
        for writes, what, actual, same in (
            (m.answer_writes, "answers", answers.get(org_id, {}), lambda w, actual: w["expected"] == actual),
            (m.profile_writes, "profile", organisations.get(org_id, ("", "", ""))[2],
             lambda w, actual: w["description"] == actual),
        ):
            acked = [i for i, w in enumerate(writes) if w["state"] == "ack"]
            if not acked:
                continue
            last = acked[-1]
            allowed = [writes[last]] + [w for w in writes[last + 1:] if w["state"] == "maybe"]
            if not any(same(w, actual) for w in allowed):
                if what == "answers":
                    detail = f"{len(actual)} answers stored, not those of the last acknowledged save"
                else:
                    detail = f"description is {actual!r}, wrote {writes[last]['description']!r}"
                lost.append(f"{what} of {m.email}: {detail}")

    # Reveals and introductions.
    for a in acks:
        if a["kind"] not in ("reveal", "ask"):
            continue
        found = accounts.get(a["email"])
        match = matches.get(a["match_id"])
        if found is None or match is None:
            lost.append(f"{a['kind']} {a['match_id']} by {a['email']}: match not found")
            continue
        status = parties.get(a["match_id"], {}).get(found[0])
        if a["kind"] == "reveal" and status != "revealed":
            lost.append(f"reveal {a['match_id']} by {a['email']}: party status is {status!r}")
        if a["kind"] == "ask" and status is None:
            lost.append(f"ask {a['match_id']} by {a['email']}: the asker is not a party")

    # Matches: one per pair, two parties each.
    for (low, high), n in pairs.items():
        if n > 1:
            duplicates.append(f"{n} matches for the pair ({low}, {high})")
    for match_id, (low, high, _) in matches.items():
        got = set(parties.get(match_id, {}))
        if got != {low, high}:
            duplicates.append(f"match {match_id} has parties {sorted(got)}, expected [{low}, {high}]")

    # The email queue.
    keys = collections.Counter(k for k, _, _, _ in queue)
    for key, n in keys.items():
        if n > 1:
            duplicates.append(f"{n} queued emails with idempotency key {key}")
    connected_emails = collections.defaultdict(list)
    for key, recipient, _, _ in queue:
        if key.startswith("connected-"):
            connected_emails[key[len("connected-"):len("connected-") + 36]].append(recipient)
    for match_id, recipients in connected_emails.items():
        if len(recipients) > 2 or len(set(recipients)) != len(recipients):
            duplicates.append(f"connection emails for match {match_id}: {recipients}")
        if match_id in matches and not matches[match_id][2]:
            duplicates.append(f"connection emails for match {match_id}, which is not connected")
    for match_id, (_, _, connected) in matches.items():
        if connected and len(connected_emails.get(match_id, [])) != 2:
            lost.append(f"match {match_id} is connected with {len(connected_emails.get(match_id, []))} connection emails queued")
    registered = {a["email"] for a in acks if a["kind"] == "register"}
    verify_queued = collections.Counter(r for k, r, _, _ in queue if k.startswith("verify-"))
    for address in sorted(registered):
        if verify_queued[address] == 0:
            lost.append(f"register {address}: no verification email queued")

    # The outbox: one file per message, each for a queued and sent email.
    files = list(run.outbox.files.values())
    by_message_id = collections.Counter(f["message_id"] for f in files)
    for mid, n in by_message_id.items():
        if n > 1:
            duplicates.append(f"{n} outbox files with Message-ID {mid}")
    by_token = collections.defaultdict(list)
    for f in files:
        for token in f["tokens"]:
            by_token[token].append(f["name"])
    for token, names in by_token.items():
        if len(names) > 1:
            duplicates.append(f"token {token[:8]}… is in {len(names)} outbox files: {names}")
    by_content = collections.defaultdict(list)
    for f in files:
        if not f["key"].startswith("already-registered-"):  # the same notice may rightly go twice
            by_content[f["content"]].append(f["name"])
    for names in by_content.values():
        if len(names) > 1:
            duplicates.append(f"the same message is in {len(names)} outbox files: {names}")
    queue_keys = {k: sent for k, _, sent, _ in queue}
    file_keys = {f["key"] for f in files}
    for f in files:
        if f["key"] not in queue_keys:
            duplicates.append(f"outbox file {f['name']} has no queued email")
    for key, sent in queue_keys.items():
        if sent and key not in file_keys:
            lost.append(f"email {key} is marked sent but is not in the outbox")
    unsent = [k for k, _, sent, _ in queue if not sent]
    resent = sum(1 for _, _, _, attempts in queue if attempts > 1)

    # Requests and errors, in and out of the restart windows.
    errors_in = collections.Counter()
    outside = []
    statuses = collections.Counter()
    for t0, t1, port, method, label, status, error in run.records:
        statuses["connection error" if error else f"{status // 100}xx"] += 1
        if error or (status is not None and status >= 500):
            if run.in_window(port, t0, t1):
                errors_in["connection error" if error else str(status)] += 1
            else:
                wall = time.strftime("%H:%M:%S", time.gmtime(t0 + run.wall_offset)) + f".{int((t0 + run.wall_offset) % 1 * 1000):03d}Z"
                outside.append(f"{method} {label} on :{port} at +{t0 - run.t_start:.2f}s ({wall}): {error or status}")

    # Liveness: the contract says matches are recomputed "within seconds" of saving answers.
    # Our new organisations all answer alike, so each fits the others; one that saved its
    # answers long before the end of the load and still has no match was never scored.
    last_answers = {}
    for a in acks:
        if a["kind"] == "answers":
            last_answers[a["email"]] = a["t"]
    ours_answered = {}
    for m in run.members:
        if not m.demo and m.email in accounts and m.email in last_answers:
            ours_answered[accounts[m.email][0]] = (m.email, last_answers[m.email])
    with_match = {org for ps in parties.values() for org in ps}
    unscored = sorted(
        f"{email_address} (answers acknowledged {run.load_end - t:.0f} s before the end of the load)"
        for org, (email_address, t) in ours_answered.items()
        if org not in with_match and run.load_end - t >= run.args.liveness_after
    )
    leases = db.rows("SELECT name, holder, expires_at FROM leases")

    kinds = collections.Counter(a["kind"] for a in acks)
    figures["requests"] = len(run.records)
    figures["responses"] = dict(sorted(statuses.items()))
    figures["acknowledged writes"] = {k: kinds.get(k, 0) for k in ("register", "verify", "answers", "profile", "reveal", "ask")}
    figures["acknowledged after a retry"] = sum(1 for a in acks if a.get("retried"))
    figures["writes never acknowledged"] = dict(run.unacked)
    figures["retried attempts"] = dict(run.retries)
    figures["429 answers"] = dict(run.limited)
    figures["restarts"] = run.restarts
    figures["errors in restart windows"] = dict(errors_in)
    figures["5xx or connection errors outside windows"] = len(outside)
    figures["refused as the contract allows"] = dict(run.refusals)
    figures["unexpected 4xx"] = len(run.rejected)
    figures["duplicates found"] = len(duplicates)
    figures["lost writes"] = len(lost)
    figures["matches"] = len(matches)
    figures["connected matches"] = sum(1 for _, _, c in matches.values() if c)
    figures["emails queued"] = len(queue)
    figures["emails unsent at the end"] = len(unsent)
    figures["emails sent more than once (attempts > 1)"] = resent
    figures["outbox files"] = len(files)
    figures["registered+answered orgs with no match"] = f"{len(set(ours_answered) - with_match)} of {len(ours_answered)}"
    figures[f"of them answered >= {run.args.liveness_after:.0f} s before the end"] = len(unscored)
    figures["leases held after the servers stopped"] = [f"{n} by {h} until {e}" for n, h, e in leases]
    figures["notes"] = dict(run.notes)

    panics = []
    server_errors = []
    for server in run.servers:
        for path in server.log_paths:
            try:
                with open(path, "r", errors="replace") as handle:
                    for line in handle:
                        line = ANSI.sub("", line)
                        if "panicked" in line:
                            panics.append(f"{os.path.basename(path)}: {line.strip()[:400]}")
                        elif " ERROR " in line or "ERROR" in line[:40]:
                            server_errors.append(f"{os.path.basename(path)}: {line.strip()[:600]}")
            except FileNotFoundError:
                pass
    figures["ERROR lines in the server logs"] = len(server_errors)
    details = {
        "lost": lost,
        "duplicates": duplicates,
        "errors outside windows": outside,
        "unexpected 4xx": run.rejected[:50],
        "panics": panics,
        "never scored": unscored,
        "server errors logged": server_errors,
        "unsent emails": unsent[:50],
    }
    violations = list(run.violations)
    violations += [f"lost: {x}" for x in lost]
    violations += [f"duplicate: {x}" for x in duplicates]
    violations += [f"outside a restart window: {x}" for x in outside]
    violations += [f"panic: {x}" for x in panics]
    if run.restarts == 0:
        violations.append("no restart happened: the run tested nothing")
    if run.args.strict_liveness:
        violations += [f"never scored: {x}" for x in unscored]
    return figures, details, violations


def run_scenario(args, scenario):
    run = Run(args, scenario)
    result = {"scenario": scenario}
    try:
        try:
            run.setup()
        except (RuntimeError, subprocess.SubprocessError, OSError) as error:
            result["setup_error"] = str(error)
            log(f"[{scenario}] setup failed: {error}")
            return result, 2
        run.t_start = now()
        run.wall_offset = time.time() - now()
        log(f"[{scenario}] load: {args.threads} clients, {args.duration} s, at most {args.iterations} iterations each; "
            f"SIGKILL every {args.kill_min}-{args.kill_max} s")
        run.run_load()
        figures, details, violations = check(run)
        result.update(figures=figures, details=details, violations=violations)
        run.failed = bool(violations)
        print_summary(scenario, figures, details, violations)
        if args.keep:
            log(f"[{scenario}] kept: database {run.pg_db}" if run.pg_db else f"[{scenario}] kept")
        return result, (1 if violations else 0)
    finally:
        run.cleanup()


def print_summary(scenario, figures, details, violations):
    print(f"\n===== {scenario} =====")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    for key, items in details.items():
        if items and key != "unsent emails":
            print(f"  -- {key} ({len(items)}):")
            for item in items[:20]:
                print(f"     {item}")
    unscored = details.get("never scored") or []
    if unscored and not any(v.startswith("never scored") for v in violations):
        print(f"  WARNING: {len(unscored)} organisations saved their answers long before the end and were never "
              f"matched (the contract says within seconds); --strict-liveness makes this a violation")
    print(f"  RESULT: {'FAIL (' + str(len(violations)) + ' violations)' if violations else 'PASS'}")
    for v in violations[:30]:
        print(f"     ! {v}")
    print(flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=["sqlite", "postgres", "postgres-two"], required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                        help="server URL (no database) on a loopback address; a fresh database is made per run")
    parser.add_argument("--ports", default="18301,18302")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--overrun", type=float, default=60.0, help="seconds a started flow may finish after that")
    parser.add_argument("--iterations", type=int, default=200, help="at most this many iterations per client")
    parser.add_argument("--register-every", type=int, default=3)
    parser.add_argument("--demo-per-thread", type=int, default=3)
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--kill-min", type=float, default=3.0)
    parser.add_argument("--kill-max", type=float, default=6.0)
    parser.add_argument("--down-max", type=float, default=0.5, help="at most this long down before the restart")
    parser.add_argument("--max-restarts", type=int, default=40)
    parser.add_argument("--grace", type=float, default=1.5, help="seconds after /healthz answers still in the window")
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--write-attempts", type=int, default=12)
    parser.add_argument("--mail-wait", type=float, default=30.0)
    parser.add_argument("--ask-share", type=float, default=0.3)
    parser.add_argument("--reveal-share", type=float, default=0.8)
    parser.add_argument("--flush", type=float, default=5.0)
    parser.add_argument("--drain", type=float, default=10.0, help="at most this long waiting for the email queue")
    parser.add_argument("--rust-log", default="warn")
    parser.add_argument("--liveness-after", type=float, default=15.0,
                        help="an organisation that saved its answers this long before the end should have a match")
    parser.add_argument("--strict-liveness", action="store_true",
                        help="count organisations never scored as violations (otherwise they are reported only)")
    parser.add_argument("--work-root", default=None, help="where the per-run work dirs go (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir and the database")
    parser.add_argument("--json", help="write every figure and finding here")
    args = parser.parse_args()
    args.ports = [int(p) for p in args.ports.split(",")]
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        print(f"not an executable: {args.binary}", file=sys.stderr)
        return 2
    bound = {"iterations": args.iterations, "duration": args.duration, "overrun": args.overrun,
             "max_restarts": args.max_restarts, "write_attempts": args.write_attempts}
    if any(v <= 0 for v in bound.values()) or args.duration > 3600 or args.iterations > 100000:
        print(f"every loop must be bounded: {bound}", file=sys.stderr)
        return 2

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    results = []
    code = 0
    for scenario in args.scenario:
        result, scenario_code = run_scenario(args, scenario)
        results.append(result)
        code = max(code, scenario_code)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2, default=str)
    print("overall:", ", ".join(f"{r['scenario']}: {'setup error' if 'setup_error' in r else ('FAIL' if r['violations'] else 'PASS')}"
                                for r in results))
    return code


if __name__ == "__main__":
    sys.exit(main())
