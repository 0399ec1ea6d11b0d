"""Where the server may listen, and the names it answers to there: anywhere on loopback,
elsewhere only with an API key.

Off loopback the server answers the network, and a model that remembers what it is told
must not answer strangers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from eyla.errors import EylaError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DNS_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def require_key_for(host: str, keyed: bool) -> None:
    """`keyed`: the owner has a key, or some user has (`eyla users add`)."""
    if not keyed and not is_loopback(host):
        raise EylaError(
            f"binding {host} exposes Eyla beyond this machine: give users API keys "
            "with `eyla users add NAME`, or set one with --api-key-file or EYLA_API_KEY"
        )


def host_name(host: str) -> str | None:
    """`host` as Host headers are compared: a DNS name in lower case, an address in its
    one canonical spelling (an IPv6 one without brackets); None if it is neither."""
    name = host.lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name if DNS_NAME.fullmatch(name) else None


def accepted_hosts(bound: str, allowed: Iterable[str] = ()) -> frozenset[str]:
    """The names a request's Host header may give to a server bound to `bound`: on
    loopback, the loopback names; on one address, that address; on every address
    (0.0.0.0, ::), only the loopback names, since which names reach this machine is not
    known here. `allowed` (--allowed-host) is added to each."""
    names = set()
    for name in allowed:
        if (normal := host_name(name)) is None:
            raise EylaError(f"--allowed-host {name!r} is not a host name or an address")
        names.add(normal)
    bound_name = host_name(bound)
    wildcard = bound_name is not None and _is_unspecified(bound_name)
    if wildcard or is_loopback(bound):
        names |= LOOPBACK_NAMES
    if bound_name is not None and not wildcard:
        names.add(bound_name)
    return frozenset(names)


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
