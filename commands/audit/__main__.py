"""``python -m commands.audit``: the audit commands alone (as ``jointgate audit``)."""

import sys

from commands.audit.run import main

sys.exit(main())
