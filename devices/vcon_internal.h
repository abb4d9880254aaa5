/* Between the virtio-console device model and its host ends (vcon_port.c). */
#ifndef WISP_DEVICES_VCON_INTERNAL_H
#define WISP_DEVICES_VCON_INTERNAL_H

#include "devices/virtio_console.h"

/* All with the device lock held. */

/* The host end of a named port opened or closed: tell the driver (PORT_OPEN). */
void vcon_port_host_open(struct vcon_port *p, bool open);
/* The socket takes output again: pop more of the port's TX queue. */
void vcon_port_resume_tx(struct vcon_port *p);
/* Bytes from a named port's socket for the guest; returns how many were taken. */
size_t vcon_port_receive(struct vcon_port *p, const uint8_t *buf, size_t len);
/* Writes the port's pending output to its host end. */
void vcon_port_flush_out(struct vcon_port *p);
/* Reads from the port's socket on or off (back-pressure). */
void vcon_port_watch(struct vcon_port *p, bool on);
/* Registers the listening sockets on the event loop. */
int vcon_ports_start(struct virtio_console *c);

#endif
