"""Pure RLPx wire protocol (no actors, no sockets): keys and node ids, enode URLs, ECIES,
the auth/ack handshake (EIP-8, legacy accepted), session secrets, the frame codec,
snappy (EIP-706), base protocol messages, Disconnect reasons and capability matching.

Specs: ethereum/devp2p ``rlpx.md``, EIP-8, EIP-706; reference implementation go-ethereum
``p2p/rlpx`` and ``p2p``.
"""

from .disc import DiscReason
from .errors import (ECIESError, ECIESMACError, EnodeError, FrameError, FrameTooLargeError, HandshakeError,
                     HelloError, InvalidPointError, KeyFileError, MACMismatchError, MessageDecodeError,
                     NodeKeyError, RLPxError, SnappyError)

__all__ = ["DiscReason", "ECIESError", "ECIESMACError", "EnodeError", "FrameError", "FrameTooLargeError",
           "HandshakeError", "HelloError", "InvalidPointError", "KeyFileError", "MACMismatchError",
           "MessageDecodeError", "NodeKeyError", "RLPxError", "SnappyError"]
