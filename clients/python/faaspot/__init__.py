"""The Python client of faaspot, compatible with the FaaSpot deployments docs:

    from faaspot import Faaspot
    faaspot = Faaspot()
    faaspot.deployments.create('hello', file='hello.py')
    faaspot.deployments.run('hello', {'name': 'user1'}, wait=True)
    execution_id = faaspot.deployments.run('hello', {'name': 'user2'})
    print(faaspot.executions().get(execution_id)['status'])

A receiver of run callbacks checks each with faaspot.verify_signature(secret, header, body).
"""

__version__ = "0.1.0"

from .client import Faaspot  # noqa: E402
from .errors import (  # noqa: E402
    BadRequest,
    BuildFailed,
    Conflict,
    ExecutionFailed,
    ExecutionTimeout,
    FaaspotError,
    NotFound,
    SignatureError,
    Unauthorized,
    Unreachable,
    WaitTimeout,
)
from .webhooks import SIGNATURE_HEADER, verify_signature  # noqa: E402

__all__ = [
    "Faaspot", "FaaspotError", "BadRequest", "Unauthorized", "NotFound", "Conflict", "BuildFailed",
    "ExecutionFailed", "ExecutionTimeout", "Unreachable", "WaitTimeout", "SignatureError",
    "verify_signature", "SIGNATURE_HEADER", "__version__",
]
