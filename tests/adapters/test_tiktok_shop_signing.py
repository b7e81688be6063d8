"""Request signing: vectors written by hand from TikTok Shop's algorithm, not by the code
under test.

Each expected pre-image below is spelled out literally: the app secret, the
path, the sorted `{key}{value}` pairs (without `sign` and `access_token`),
the body where one is signed, and the app secret again. Only the final
HMAC-SHA256 is computed here, with the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from adapters.partners.tiktok_shop import TikTokShopAuth, TokenSet, signature

SECRET = "s3cr3t"


def hmac_hex(preimage: str | bytes) -> str:
    data = preimage.encode() if isinstance(preimage, str) else preimage
    return hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()


def make_auth(cipher: str | None = "CIPHER") -> TikTokShopAuth:
    return TikTokShopAuth(
        app_key="KEY",
        app_secret=SECRET,
        tokens=TokenSet(access_token="TOKEN-abc", refresh_token="REFRESH-xyz"),
        shop_cipher=cipher,
        clock=lambda: 1700000000.75,
    )


def signed(request: httpx.Request, auth: TikTokShopAuth | None = None) -> httpx.Request:
    (auth or make_auth()).sign(request)
    return request


def test_get_vector_excludes_sign_and_access_token() -> None:
    """GET: path + sorted pairs, no body; `sign` and `access_token` never signed."""
    query = [
        ("timestamp", "1700000000"),
        ("ids", "123,456"),
        ("app_key", "KEY"),
        ("access_token", "TOKEN"),
        ("sign", "old"),
        ("shop_cipher", "CIPHER"),
    ]
    expected = hmac_hex(
        "s3cr3t/order/202309/ordersapp_keyKEYids123,456shop_cipherCIPHERtimestamp1700000000s3cr3t"
    )
    assert signature(SECRET, "/order/202309/orders", query) == expected


def test_signature_is_lowercase_hex() -> None:
    value = signature(SECRET, "/x", [("a", "1")])
    assert value == value.lower()
    assert len(value) == 64


def test_auth_signs_a_get_with_timestamp_cipher_and_token_header() -> None:
    request = signed(httpx.Request("GET", "https://api.test/order/202309/orders?ids=123,456"))
    params = request.url.params
    assert params["app_key"] == "KEY"
    assert params["timestamp"] == "1700000000"
    assert params["shop_cipher"] == "CIPHER"
    assert params["sign"] == hmac_hex(
        "s3cr3t/order/202309/ordersapp_keyKEYids123,456shop_cipherCIPHERtimestamp1700000000s3cr3t"
    )
    assert request.headers["x-tts-access-token"] == "TOKEN-abc"
    assert "access_token" not in params


def test_auth_signs_the_exact_body_bytes_of_a_post() -> None:
    body = b'{"self_shipment":{"tracking_number":"1Z999","shipping_provider_id":"SP7"}}'
    request = signed(
        httpx.Request(
            "POST",
            "https://api.test/fulfillment/202309/packages/PKG1/ship",
            content=body,
            headers={"content-type": "application/json"},
        )
    )
    expected = hmac_hex(
        b"s3cr3t/fulfillment/202309/packages/PKG1/ship"
        b"app_keyKEYshop_cipherCIPHERtimestamp1700000000"
        b'{"self_shipment":{"tracking_number":"1Z999","shipping_provider_id":"SP7"}}'
        b"s3cr3t"
    )
    assert request.url.params["sign"] == expected


def test_post_query_parameters_are_signed_with_the_body() -> None:
    request = signed(
        httpx.Request(
            "POST",
            "https://api.test/return_refund/202309/cancellations/C1/approve?idempotency_key=O1-3-X",
            content=b"",
        )
    )
    expected = hmac_hex(
        "s3cr3t/return_refund/202309/cancellations/C1/approve"
        "app_keyKEYidempotency_keyO1-3-Xshop_cipherCIPHERtimestamp1700000000s3cr3t"
    )
    assert request.url.params["sign"] == expected


@pytest.mark.parametrize("path", ["/authorization/202309/shops", "/seller/202309/permissions"])
def test_shop_cipher_is_left_out_where_the_api_takes_none(path: str) -> None:
    request = signed(httpx.Request("GET", f"https://api.test{path}"))
    assert "shop_cipher" not in request.url.params
    assert request.url.params["sign"] == hmac_hex(
        f"s3cr3t{path}app_keyKEYtimestamp1700000000s3cr3t"
    )


def test_multipart_body_is_not_signed() -> None:
    request = signed(
        httpx.Request(
            "POST",
            "https://api.test/product/202309/images/upload",
            files={"data": ("a.png", b"\x89PNG...")},
        )
    )
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.url.params["sign"] == hmac_hex(
        "s3cr3t/product/202309/images/uploadapp_keyKEYshop_cipherCIPHERtimestamp1700000000s3cr3t"
    )


def test_resigning_replaces_the_previous_stamp() -> None:
    """A retried or refreshed request is signed again, never with two timestamps."""
    request = signed(httpx.Request("GET", "https://api.test/order/202309/orders?ids=1"))
    ticks = iter([1700000100.0])
    auth = make_auth()
    auth.clock = lambda: next(ticks)
    auth.sign(request)
    assert request.url.params.get_list("timestamp") == ["1700000100"]
    assert len(request.url.params.get_list("sign")) == 1
    assert request.url.params["sign"] == hmac_hex(
        "s3cr3t/order/202309/ordersapp_keyKEYids1shop_cipherCIPHERtimestamp1700000100s3cr3t"
    )


def test_secrets_stay_out_of_repr() -> None:
    auth = make_auth()
    for text in (repr(auth), repr(auth.tokens), str(auth.tokens)):
        assert SECRET not in text
        assert "TOKEN-abc" not in text
        assert "REFRESH-xyz" not in text


def test_json_body_of_the_client_is_compact_and_signed_as_sent() -> None:
    """The client encodes the body once; the signature covers those bytes."""
    body = json.dumps({"order_id": "O1", "cancel_reason": "r"}, separators=(",", ":")).encode()
    request = signed(
        httpx.Request("POST", "https://api.test/return_refund/202309/cancellations", content=body)
    )
    assert request.url.params["sign"] == hmac_hex(
        b"s3cr3t/return_refund/202309/cancellationsapp_keyKEYshop_cipherCIPHERtimestamp1700000000"
        b'{"order_id":"O1","cancel_reason":"r"}s3cr3t'
    )
