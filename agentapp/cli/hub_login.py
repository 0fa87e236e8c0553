"""Whose hub login a person's hub command uses: agent.toml's [hub] table, or --hub, --user and
--ca; the password is the one `agentapp hub login` kept in the key store.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentapp.cli.base import CliError
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.core.config import HubConfig


def hub_config(args: argparse.Namespace, s: Settings) -> HubConfig:
    from agentapp.core.config import HubConfig

    cfg = s.config.hub
    url = args.hub or (cfg.url if cfg else None)
    user = args.user or (cfg.user if cfg else None)
    ca = args.ca or (cfg.ca if cfg else None)
    if not (url and user and ca):
        raise CliError(_("no hub: give --hub, --user and --ca, or a [hub] table in agent.toml"), 2)
    return HubConfig(url, user, Path(ca).absolute())


def person(args: argparse.Namespace, s: Settings) -> Any:
    """A connection as this person's own hub login."""
    from agentapp.hub.connect import desk_connect

    return desk_connect(hub_config(args, s), app="agentapp cli")
