# Joins two TUN devices it makes (NAME_A, NAME_B) by copying each IP packet from one to the other,
# in user space and a little late: a link whose round trip is that of a real network (a few hundred
# microseconds), not a veth's few, where this kernel has no netem. Prints "ready" once both exist; the caller moves
# one into another network namespace (the device keeps its descriptor) and addresses them.
# usage: tun-relay.py NAME_A NAME_B
import fcntl, os, select, struct, sys, time

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


a, b = tun(sys.argv[1]), tun(sys.argv[2])
print("ready", flush=True)
other = {a: b, b: a}
while True:
    for fd in select.select([a, b], [], [])[0]:
        time.sleep(0.0001)
        try:
            os.write(other[fd], os.read(fd, 65536))
        except OSError:
            pass  # the other side is down (not yet up, or being deleted): the packet is lost, as on a wire
