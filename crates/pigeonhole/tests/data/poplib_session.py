"""Read an inbox over POP3 with Python's poplib, as a Python mail script would.

Usage: poplib_session.py HOST PORT USER PASSWORD OUT_DIR

Connects, upgrades with STLS (the server's self-signed certificate is not
verified), logs in with USER/PASS, and runs every transaction command: STAT, LIST,
UIDL, RETR of each message (written to OUT_DIR/<UIDL>.eml as poplib returns it:
lines unstuffed, joined with CRLF), TOP, the error paths, DELE of message 1, RSET,
DELE again and QUIT. Prints what it saw as JSON. A refusal where success is
expected raises, so the exit status is non-zero.
"""
import json
import os
import poplib
import ssl
import sys

host, port, user, password, out_dir = sys.argv[1:6]


def error_of(call, *args):
    try:
        call(*args)
    except poplib.error_proto as err:
        return err.args[0].decode()
    raise SystemExit(f"{call.__name__}{args} was expected to fail")


report = {}
pop = poplib.POP3(host, int(port), timeout=30)
report["welcome"] = pop.getwelcome().decode()
report["capa_before_tls"] = sorted(pop.capa())
report["pass_before_user"] = error_of(pop.pass_, "x")
report["stat_before_login"] = error_of(pop.stat)
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
pop.stls(context)
report["capa_after_tls"] = sorted(pop.capa())
pop.user(user)
report["login"] = pop.pass_(password).decode()
report["stat"] = list(pop.stat())
report["list"] = [line.decode() for line in pop.list()[1]]
uidls = [line.decode().split() for line in pop.uidl()[1]]
report["uidl"] = uidls
for number, uid in uidls:
    _, lines, octets = pop.retr(int(number))
    with open(os.path.join(out_dir, uid + ".eml"), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
report["top_0"] = [line.decode() for line in pop.top(1, 0)[1]]
report["retr_missing"] = error_of(pop.retr, 99)
report["top_without_lines"] = error_of(pop._shortcmd, "TOP 1")
report["dele"] = pop.dele(1).decode()
report["retr_deleted"] = error_of(pop.retr, 1)
report["stat_after_dele"] = list(pop.stat())
report["rset"] = pop.rset().decode()
report["stat_after_rset"] = list(pop.stat())
pop.dele(1)
report["quit"] = pop.quit().decode()
print(json.dumps(report))
