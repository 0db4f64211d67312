"""Wire contract v1, pure: the models and canonical JSON, the HPKE seal, the queued payload.

:mod:`.models` holds what leaves the device (and the reply), :mod:`.seal` the
server keys and the seal, :mod:`.payload` the bytes of one queued event and
of one batch. Nothing here touches a file or the network. The contract's
names are re-exported here, where ``n2net_privacy.uploader.wire`` always had
them. See docs/wire-format.md.
"""

from __future__ import annotations

from n2net_privacy.uploader.wire.models import *  # noqa: F403
from n2net_privacy.uploader.wire.models import __all__ as __all__
