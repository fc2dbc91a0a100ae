"""What wq asks of its dependencies beyond importing them: the warnings they
raise for their own developers are filtered where wq imports them, one
library and one kind of warning at a time (never all warnings), so that
they never reach a user's terminal, an interactive session or a one-line
error.

Each filter names the library whose code triggers the warning (the warning
is attributed to it) and the warning's class, so a warning about wq's own
use of a library still shows.
"""

from __future__ import annotations

import warnings


def quiet_asyncssh() -> None:
    """Before `import asyncssh`: cryptography 51 deprecated DSA, and asyncssh
    (2.24) names cryptography's DSA classes when it is imported (ten
    CryptographyDeprecationWarnings on stderr) and when it meets a DSA key.
    wq never asks for DSA; the deprecation is asyncssh's to act on."""
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:                 # (asyncssh's own import then says what is missing)
        return
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning,
                            module=r"asyncssh(\.|$)")
