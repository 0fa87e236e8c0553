"""argparse's own texts ("usage:", "options", its errors) in the catalogue, and argparse made
to read them: it looks each one up through `argparse._` / `argparse.ngettext` when it formats
help or an error, so pointing those at the catalogue translates them with ours (Python ships
no French catalogue for argparse). Called once by cli/main.py before the parser is built."""

from __future__ import annotations

import argparse

from agentapp.i18n import N_, _, ngettext

TEXTS = (  # the ones a person meets with agentapp's parser (msgids are argparse's own)
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("expected one argument"),
    N_("expected at least one argument"),
    N_("expected at most one argument"),
    N_("ignored explicit argument %r"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("can't open '%(filename)s': %(error)s"),
)


def install() -> None:
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
