#!/usr/bin/python3
"""A third-party mDNS peer for mtp/dnssd's tests: python-zeroconf (Debian's
python3-zeroconf) on the loopback interface, at mDNS's own port.

    zeroconf_peer.py CONTROLLER_ID PORT PATH AGENT_TYPE WANT SECONDS

It registers a USP controller, CONTROLLER_ID._usp-ctr-mqtt._tcp.local.,
whose SRV is 127.0.0.1:PORT and TXT path=PATH, then browses AGENT_TYPE
(e.g. _usp-agt-mqtt._tcp.local.) and prints one JSON line per instance it
resolves (name, port, path, addresses), until it has WANT of them or
SECONDS pass; then "ready" was printed first, once registered, and
"done N" last. It stays registered until its standard input closes.
"""
import json
import socket
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

ctl, port, path, agent_type, want, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
info = ServiceInfo("_usp-ctr-mqtt._tcp.local.", ctl + "._usp-ctr-mqtt._tcp.local.",
                   addresses=[socket.inet_aton("127.0.0.1")], port=port,
                   properties={"path": path}, server="zc-broker.local.")
zc.register_service(info)
print("ready", flush=True)

names = []
lock = threading.Lock()
seen = threading.Event()


def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Added:
        with lock:
            names.append(name)
            if len(names) >= want:
                seen.set()


ServiceBrowser(zc, agent_type, handlers=[on_change])
seen.wait(seconds)
with lock:
    found = sorted(set(names))
for name in found:
    si = zc.get_service_info(agent_type, name, timeout=3000)
    if si is None:
        print(json.dumps({"name": name, "unresolved": True}), flush=True)
        continue
    print(json.dumps({"name": name, "port": si.port, "server": si.server,
                      "path": (si.properties or {}).get(b"path", b"").decode(),
                      "addresses": [socket.inet_ntoa(a) for a in si.addresses]}), flush=True)
print("done %d" % len(found), flush=True)
sys.stdin.read()
zc.unregister_service(info)
zc.close()
