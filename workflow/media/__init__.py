"""Photos and documents attached to releases: where their bytes are kept (``storage``),
what an upload really is (``inspection``), the renditions of a photo (``images``)."""
