"""The exceptions: every failing fn_status becomes facenet_c.Error (or a subclass that is also
the matching built-in exception) with fn_last_error()'s message."""

# fn_status values (include/facenet.h)
FN_ERR_IO, FN_ERR_FORMAT, FN_ERR_SHAPE, FN_ERR_MISSING, FN_ERR_NOMEM, FN_ERR_ARG, \
    FN_ERR_UNSUPPORTED, FN_ERR_LIMIT, FN_ERR_NO_FACE, FN_ERR_MISMATCH = range(1, 11)


class Error(Exception):
    """A facenet-c call failed. `status` is the fn_status code, `status_name` its name
    (fn_status_str) and the message is fn_last_error()'s detail."""

    def __init__(self, message, status=0, status_name=""):
        super().__init__(message)
        self.status = status
        self.status_name = status_name


class InvalidArgumentError(Error, ValueError):
    """Bad input (wrong shape, out-of-range argument, size above a cap)."""


class FileError(Error, OSError):
    """A file is missing, unreadable or unwritable."""


class FormatError(Error, ValueError):
    """Corrupt, truncated or unrecognised file contents."""


class MismatchError(Error):
    """E.g. a gallery or classifier made with another model."""


class NotFoundError(Error, KeyError):
    """A required entry is absent (no such subject, face, collection)."""

    def __str__(self):  # KeyError would quote the message
        return Exception.__str__(self)


class UnsupportedError(Error):
    """Valid but not supported here (e.g. a part built without its library)."""


_CLASS = {FN_ERR_IO: FileError, FN_ERR_FORMAT: FormatError, FN_ERR_SHAPE: InvalidArgumentError,
          FN_ERR_ARG: InvalidArgumentError, FN_ERR_LIMIT: InvalidArgumentError,
          FN_ERR_MISSING: NotFoundError, FN_ERR_MISMATCH: MismatchError,
          FN_ERR_UNSUPPORTED: UnsupportedError, FN_ERR_NOMEM: Error, FN_ERR_NO_FACE: Error}


def raise_status(status, name, detail):
    cls = _CLASS.get(status, Error)
    raise cls("%s: %s" % (name, detail) if detail else name, status, name)
