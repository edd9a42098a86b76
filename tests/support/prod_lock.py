"""Image locks of the production overlay (images.lock.json) made up for the current code.

No registry exists here: the digests are hashes of the image names, so a test can render
as if CI had pushed every image.
"""

import hashlib

from burger_recs.components.images import image_ref
from burger_recs.deploy import production


def fake_lock(registry=production.DEFAULT_PROD_REGISTRY, salt="", skip=()):
    """A lock as CI would write it for the current code, with made-up digests (tests only)."""
    images = {
        image: f"{image_ref(image, registry)}@sha256:"
        + hashlib.sha256(f"{image}{salt}".encode()).hexdigest()
        for image in production.IMAGES
        if image not in skip
    }
    return production.Lock(registry, images)


def write_lock(overlay, lock):
    """Write LOCK as the overlay's images.lock.json, as `make push-prod-images` does."""
    (overlay / production.LOCK).write_text(production.lock_text(lock))
