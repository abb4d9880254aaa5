/* virtio-net host side: the -n option and opening the tap with a vnet header. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "devices/virtio_net.h"

static int bad(char *err, size_t errlen, const char *spec, const char *what)
{
        snprintf(err, errlen, "option --net: '%s': %s", spec, what);
        return -EINVAL;
}

static int parse_mac(const char *s, size_t n, uint8_t mac[6])
{
        unsigned int b[6];
        char buf[18];
        char end;

        if (n != 17)
                return -EINVAL;
        /* Strictly hh:hh:hh:hh:hh:hh: sscanf alone would take blanks and signs. */
        for (size_t i = 0; i < n; i++)
                if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
                        return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                   &end) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)b[i];
        /* A guest NIC needs a unicast address. */
        return mac[0] & 1 ? -EINVAL : 0;
}

int net_options_parse(const char *spec, struct net_options *o, char *err, size_t errlen)
{
        const char *item = spec;

        memset(o, 0, sizeof(*o));
        o->transport = VIRTIO_TRANSITIONAL;
        o->queues = 1;
        while (item && *item) {
                const char *comma = strchr(item, ',');
                size_t n = comma ? (size_t)(comma - item) : strlen(item);
                const char *eq = memchr(item, '=', n);
                size_t klen = eq ? (size_t)(eq - item) : n, vlen = eq ? n - klen - 1 : 0;
                const char *val = eq ? eq + 1 : NULL;
                char tmp[16] = {0};

                if (!val || vlen == 0)
                        return bad(err, errlen, spec, "settings are KEY=VALUE");
                if (klen == 3 && !strncmp(item, "tap", 3)) {
                        if (vlen >= IFNAMSIZ)
                                return bad(err, errlen, spec, "interface name too long");
                        if (o->ifname[0])
                                return bad(err, errlen, spec, "tap= given twice");
                        memcpy(o->ifname, val, vlen);
                } else if (klen == 3 && !strncmp(item, "mac", 3)) {
                        if (parse_mac(val, vlen, o->mac) < 0)
                                return bad(err, errlen, spec,
                                           "mac must be a unicast aa:bb:cc:dd:ee:ff");
                        o->mac_set = true;
                } else if (klen == 9 && !strncmp(item, "transport", 9) && vlen < sizeof(tmp)) {
                        memcpy(tmp, val, vlen);
                        if (virtio_transport_parse(tmp, &o->transport) < 0)
                                return bad(err, errlen, spec,
                                           "transport must be modern, legacy or transitional");
                } else if (klen == 6 && !strncmp(item, "queues", 6) && vlen < sizeof(tmp)) {
                        char *end;
                        unsigned long q;

                        memcpy(tmp, val, vlen);
                        q = strtoul(tmp, &end, 10);
                        if (*end || tmp[0] < '0' || tmp[0] > '9' || q < 1 || q > NET_MAX_PAIRS)
                                return bad(err, errlen, spec, "queues must be 1 to 8");
                        o->queues = (unsigned int)q;
                } else {
                        return bad(err, errlen, spec,
                                   "unknown setting (tap, mac, transport, queues)");
                }
                item = comma ? comma + 1 : NULL;
                if (item && !*item)
                        return bad(err, errlen, spec, "empty setting after ','");
        }
        if (!o->ifname[0])
                return bad(err, errlen, spec, "no tap=IFNAME");
        if (!o->mac_set) {
                /* A stable, locally administered address derived from the name. */
                uint32_t h = 2166136261u;

                for (const char *c = o->ifname; *c; c++)
                        h = (h ^ (uint8_t)*c) * 16777619u;
                o->mac[0] = 0x52;
                o->mac[1] = 0x54;
                o->mac[2] = 0x00;
                o->mac[3] = (uint8_t)(h >> 16);
                o->mac[4] = (uint8_t)(h >> 8);
                o->mac[5] = (uint8_t)h;
        }
        return 0;
}

static int tap_error(char *err, size_t errlen, const char *ifname, int e)
{
        if (e == EPERM || e == EACCES)
                snprintf(err, errlen,
                         "tap '%s': permission denied: opening or creating a tap needs "
                         "CAP_NET_ADMIN, or a tap created for this user (ip tuntap add %s mode "
                         "tap user $USER)",
                         ifname, ifname);
        else if (e == ENOENT || e == ENODEV)
                snprintf(err, errlen, "tap '%s': /dev/net/tun is missing (modprobe tun)", ifname);
        else if (e == EBUSY) /* TUNSETIFF on a tap without IFF_MULTI_QUEUE already attached */
                snprintf(err, errlen,
                         "tap '%s': in use by another process (another VM?): a tap without "
                         "multi_queue takes one user",
                         ifname);
        else if (e == EINVAL)
                snprintf(err, errlen,
                         "tap '%s': cannot attach: it exists but is not a tap with matching "
                         "flags (multi-queue?)",
                         ifname);
        else
                snprintf(err, errlen, "tap '%s': %s", ifname, strerror(e));
        return -e;
}

int virtio_net_open(struct virtio_net *n, const struct net_options *o, char *err, size_t errlen)
{
        memset(n, 0, sizeof(*n));
        n->opt = *o;
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++)
                n->pair[i].tap_fd = -1;
        for (unsigned int i = 0; i < o->queues; i++) {
                struct ifreq ifr = {0};
                int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

                if (fd < 0)
                        return tap_error(err, errlen, o->ifname, errno);
                n->pair[i].tap_fd = fd;
                memcpy(ifr.ifr_name, o->ifname, sizeof(o->ifname));
                ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
                if (o->queues > 1)
                        ifr.ifr_flags |= IFF_MULTI_QUEUE;
                if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                        return tap_error(err, errlen, o->ifname, errno);
                /* No offloads until the guest says what it accepts. */
                if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
                        return tap_error(err, errlen, o->ifname, errno);
                n->pair[i].pkt = malloc(NET_HDR_MRG + NET_MAX_FRAME);
                if (!n->pair[i].pkt)
                        return -ENOMEM;
        }
        return 0;
}
