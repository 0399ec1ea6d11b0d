"""Where the server may listen: anywhere on loopback, elsewhere only with an API key.

Off loopback the server answers the network, and a model that remembers what it is told
must not answer strangers.
"""

from __future__ import annotations

import ipaddress

from eyla.errors import EylaError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def require_key_for(host: str, api_key: str | None) -> None:
    if not api_key and not is_loopback(host):
        raise EylaError(
            f"binding {host} exposes Eyla beyond this machine: "
            "set an API key with --api-key or EYLA_API_KEY"
        )
