"""The public names: leadbridge.sandbox.__all__ is honest and leadbridge maps them lazily."""

from __future__ import annotations

import leadbridge
import leadbridge.sandbox as sandbox_pkg


def test_all_is_sorted_and_resolves() -> None:
    assert sandbox_pkg.__all__ == sorted(sandbox_pkg.__all__)
    assert set(sandbox_pkg.__all__) == {"Sandbox", "SandboxConfig", "TokenGrant"}
    for name in sandbox_pkg.__all__:
        assert getattr(sandbox_pkg, name) is not None


def test_top_level_lazy_names() -> None:
    assert leadbridge.Sandbox is sandbox_pkg.Sandbox
    assert leadbridge.SandboxConfig is sandbox_pkg.SandboxConfig


def test_default_config_shape() -> None:
    config = sandbox_pkg.SandboxConfig.default()
    [grant] = config.tokens
    assert grant.token.startswith("mega_") and len(grant.token) == 69
    assert int(grant.token[5:], 16) >= 0
    assert set(grant.scopes) == {"public_api:leads:read", "public_api:leads:write",
                                 "public_api:webhooks:manage"}
    assert (config.host, config.port) == ("127.0.0.1", 0)
    assert grant.token not in repr(config)
