from django.test import RequestFactory, override_settings

from electionsite import net


def test_without_a_trusted_header_the_socket_address_is_used_and_a_forged_header_ignored():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert net.client_address(request) == "10.0.0.5"


@override_settings(TRUSTED_PROXY_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=1)
def test_one_trusted_proxy_gives_the_rightmost_forwarded_address():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert net.client_address(request) == "203.0.113.7"


@override_settings(TRUSTED_PROXY_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=2)
def test_two_trusted_proxies_skip_the_address_the_inner_proxy_appended():
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7, 10.0.0.9"
    )
    assert net.client_address(request) == "203.0.113.7"


@override_settings(TRUSTED_PROXY_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=1)
def test_a_garbage_forwarded_value_falls_back_to_the_socket_address():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert net.client_address(request) == "10.0.0.5"


@override_settings(TRUSTED_PROXY_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=1)
def test_forwarded_addresses_with_ports_are_normalised():
    assert net.resolve("10.0.0.5", "[2001:db8::1]:443") == "2001:db8::1"
    assert net.resolve("10.0.0.5", "198.51.100.2:5678") == "198.51.100.2"


@override_settings(TRUSTED_PROXY_HEADER="X-Real-IP", TRUSTED_PROXY_COUNT=1)
def test_an_asgi_scope_reads_the_same_trusted_header():
    scope = {"client": ("10.0.0.5", 1234), "headers": [(b"x-real-ip", b"198.51.100.9")]}
    assert net.scope_client_address(scope) == "198.51.100.9"
    assert net.scope_client_address({"client": ("10.0.0.5", 1), "headers": []}) == "10.0.0.5"
