"""node/traffic.py: a batch is counted per code, whether it holds one code or several."""

from node.traffic import Traffic


def rows(t: Traffic) -> dict:
    return {(d, cap, code): (n, b) for d, cap, code, n, b in t.snapshot()[2]}


def test_batches_of_one_code_and_of_several_count_the_same_as_message_by_message():
    t = Traffic()
    t.count("ingress", "eth/69", [(3, b"ab")])                       # one message
    t.count("ingress", "eth/69", ((3, b"abc"), (3, memoryview(b"d"))))  # one code
    t.count("ingress", "eth/69", [(3, b"x"), (5, b"yy"), (3, b"")])  # several codes
    t.count("egress", "eth/69", ())                                  # an acknowledgement only
    t.count("egress", "snap/1", [(0, b"z" * 10)] * 4)
    assert rows(t) == {("ingress", "eth/69", 3): (5, 7), ("ingress", "eth/69", 5): (1, 2),
                       ("egress", "snap/1", 0): (4, 40)}


def test_add_and_total_sum_snapshots():
    a, b = Traffic(), Traffic()
    a.wire_in, a.wire_out = 10, 20
    a.count("ingress", "test/1", [(0, b"abc")])
    b.count("ingress", "test/1", [(0, b"de"), (1, b"f")])
    total = Traffic.total(a, [b.snapshot()])
    assert total.snapshot()[:2] == (10, 20)
    assert rows(total) == {("ingress", "test/1", 0): (2, 5), ("ingress", "test/1", 1): (1, 1)}
