"""The embedded mode's broker: kombu's filesystem transport, made safe to share.

kombu's transport creates a message file, then writes into it; another process reading
the folder at that moment takes the empty file and the worker dies on it
(``JSONDecodeError``). Here a message is written under a name the readers ignore and
renamed into place when complete (a rename is atomic on POSIX), so readers only ever see
whole messages. The channel also creates its folders when it opens.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made on first use, not when the app is configured (importing does no I/O).
        for folder in (self.data_folder_in, self.data_folder_out, self.processed_folder):
            os.makedirs(folder, exist_ok=True)

    # kombu's two parents declare this differently; this is the filesystem one's.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"cannot add {name!r} to the queue folder") from error


class Transport(filesystem.Transport):
    Channel = Channel
