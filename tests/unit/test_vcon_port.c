/* Unit tests for devices/vcon_port.c: --port parsing and the named ports' listening sockets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio_console.h"
#include "fake_kvm.h"
#include "vmm/log.h"

static struct vcon_port_options o;
static struct virtio_console con;
static bool con_open;
static char err[512];
static char dir[64];

static void setup(void)
{
        log_set_level(LOG_ERROR);
        strcpy(dir, "/tmp/wisp-vcon-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        con_open = false;
        err[0] = 0;
}

static void rm_dir(const char *d)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        (void)!system(cmd);
}

static void teardown(void)
{
        if (con_open)
                virtio_console_close(&con);
        con_open = false;
        rm_dir(dir);
}

TestSuite(vcon_parse, .init = setup, .fini = teardown);
TestSuite(vcon_open, .init = setup, .fini = teardown);

/* --- vcon_port_parse ------------------------------------------------------------------------ */

static int parse(const char *spec)
{
        memset(&o, 0x5a, sizeof(o));
        err[0] = 0;
        return vcon_port_parse(spec, &o, err, sizeof(err));
}

static void refused(const char *spec)
{
        cr_assert_eq(parse(spec), -EINVAL, "'%s' accepted", spec);
        cr_assert_not_null(strstr(err, "--port"), "'%s': message '%s' names no option", spec, err);
        cr_assert_not_null(strstr(err, spec), "'%s': message '%s' names no value", spec, err);
}

Test(vcon_parse, name_and_path)
{
        cr_assert_eq(parse("org.test.0=unix:/run/wisp/port0.sock"), 0, "%s", err);
        cr_assert_str_eq(o.name, "org.test.0");
        cr_assert_str_eq(o.path, "/run/wisp/port0.sock");
}

Test(vcon_parse, path_may_hold_equals_and_colons)
{
        cr_assert_eq(parse("a=unix:/tmp/x=y:z"), 0, "%s", err);
        cr_assert_str_eq(o.name, "a");
        cr_assert_str_eq(o.path, "/tmp/x=y:z");
}

Test(vcon_parse, missing_equals)
{
        refused("name");
        refused("nameunix:/tmp/x");
        refused("");
}

Test(vcon_parse, empty_name)
{
        refused("=unix:/tmp/x");
}

Test(vcon_parse, name_length_limit)
{
        char spec[256], name[VCON_NAME_MAX + 1];

        memset(name, 'n', VCON_NAME_MAX - 1);
        name[VCON_NAME_MAX - 1] = 0;
        snprintf(spec, sizeof(spec), "%s=unix:/tmp/x", name);
        cr_assert_eq(parse(spec), 0, "a %d-byte name fits: %s", VCON_NAME_MAX - 1, err);
        cr_assert_str_eq(o.name, name);

        memset(name, 'n', VCON_NAME_MAX);
        name[VCON_NAME_MAX] = 0;
        snprintf(spec, sizeof(spec), "%s=unix:/tmp/x", name);
        refused(spec);
}

Test(vcon_parse, not_unix)
{
        refused("a=tcp:127.0.0.1:4000");
        refused("a=/tmp/x");
        refused("a=UNIX:/tmp/x");
        refused("a=unix");
}

Test(vcon_parse, empty_path)
{
        refused("a=unix:");
}

Test(vcon_parse, path_length_limit)
{
        char spec[256], path[sizeof(o.path) + 1];

        memset(path, 'p', sizeof(o.path) - 1);
        path[0] = '/';
        path[sizeof(o.path) - 1] = 0;
        snprintf(spec, sizeof(spec), "a=unix:%s", path);
        cr_assert_eq(parse(spec), 0, "a %zu-byte path fits sun_path: %s", sizeof(o.path) - 1, err);
        cr_assert_str_eq(o.path, path);

        memset(path, 'p', sizeof(o.path));
        path[0] = '/';
        path[sizeof(o.path)] = 0;
        snprintf(spec, sizeof(spec), "a=unix:%s", path);
        refused(spec);
}

Test(vcon_parse, a_refusal_leaves_no_half_filled_options)
{
        cr_assert_eq(parse("abc=tcp:1"), -EINVAL);
        cr_assert_eq(o.name[0], 0);
        cr_assert_eq(o.path[0], 0);
}

/* --- virtio_console_open: the listening sockets ------------------------------------------- */

static struct vcon_port_options port_at(const char *name, const char *file)
{
        struct vcon_port_options p;

        memset(&p, 0, sizeof(p));
        snprintf(p.name, sizeof(p.name), "%s", name);
        snprintf(p.path, sizeof(p.path), "%s/%s", dir, file);
        return p;
}

static bool is_socket(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A client connects (the listen backlog takes it before any accept). */
static bool can_connect(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        cr_assert_geq(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static bool file_holds(const char *path, const char *text)
{
        char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf));
        close(fd);
        return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

/* A socket file that an earlier run left behind: bound, then closed. */
static void stale_socket(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
        close(fd);
        cr_assert(is_socket(path));
        cr_assert_not(can_connect(path), "nobody listens on a stale socket");
}

Test(vcon_open, port_0_only_needs_no_socket)
{
        cr_assert_eq(virtio_console_open(&con, NULL, 0, 1, err, sizeof(err)), 0, "%s", err);
        con_open = true;
        cr_assert_eq(con.nports, 1);
        cr_assert_eq(con.out_fd, 1);
        cr_assert_eq(con.port[0].id, 0);
        cr_assert_eq(con.port[0].listen_fd, -1);
        cr_assert_eq(con.port[0].conn_fd, -1);
}

Test(vcon_open, every_named_port_listens_on_its_socket)
{
        struct vcon_port_options p[2] = {port_at("alpha", "a.sock"), port_at("beta", "b.sock")};

        cr_assert_eq(virtio_console_open(&con, p, 2, -1, err, sizeof(err)), 0, "%s", err);
        con_open = true;
        cr_assert_eq(con.nports, 3);
        for (unsigned int i = 0; i < 2; i++) {
                cr_assert(is_socket(p[i].path), "%s is not a socket", p[i].path);
                cr_assert(can_connect(p[i].path), "nobody listens on %s", p[i].path);
                cr_assert_eq(con.port[i + 1].id, i + 1);
                cr_assert_str_eq(con.port[i + 1].opt.name, p[i].name);
                cr_assert_geq(con.port[i + 1].listen_fd, 0);
                cr_assert_eq(con.port[i + 1].conn_fd, -1, "no client before the event loop runs");
                cr_assert(fcntl(con.port[i + 1].listen_fd, F_GETFD) & FD_CLOEXEC);
                cr_assert(fcntl(con.port[i + 1].listen_fd, F_GETFL) & O_NONBLOCK);
        }
        virtio_console_close(&con);
        con_open = false;
        for (unsigned int i = 0; i < 2; i++)
                cr_assert_not(is_socket(p[i].path), "close removes %s", p[i].path);
}

Test(vcon_open, a_stale_socket_is_replaced)
{
        struct vcon_port_options p = port_at("alpha", "a.sock");

        stale_socket(p.path);
        cr_assert_eq(virtio_console_open(&con, &p, 1, -1, err, sizeof(err)), 0, "%s", err);
        con_open = true;
        cr_assert(is_socket(p.path));
        cr_assert(can_connect(p.path), "the new socket listens");
}

Test(vcon_open, a_regular_file_is_not_replaced_and_the_error_names_it)
{
        struct vcon_port_options p = port_at("alpha", "a.sock");
        int r;

        write_file(p.path, "precious\n");
        r = virtio_console_open(&con, &p, 1, -1, err, sizeof(err));
        cr_assert_lt(r, 0, "opened over a regular file");
        cr_assert_not_null(strstr(err, p.path), "message '%s' does not name the path", err);
        cr_assert_not_null(strstr(err, "alpha"), "message '%s' does not name the port", err);
        cr_assert(file_holds(p.path, "precious\n"), "the regular file was touched");
}

Test(vcon_open, a_missing_directory_is_an_error_naming_the_path)
{
        struct vcon_port_options p = port_at("alpha", "no/such/dir/a.sock");

        cr_assert_lt(virtio_console_open(&con, &p, 1, -1, err, sizeof(err)), 0);
        cr_assert_not_null(strstr(err, p.path), "message '%s' does not name the path", err);
}

Test(vcon_open, the_same_name_twice_is_refused)
{
        struct vcon_port_options p[2] = {port_at("alpha", "a.sock"), port_at("alpha", "b.sock")};

        cr_assert_eq(virtio_console_open(&con, p, 2, -1, err, sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "alpha"), "message '%s' does not name the port", err);
        cr_assert_not(is_socket(p[1].path), "the second port was not opened");
}

/*
 * Two ports on one path: were it allowed, the second would find the first one's live socket,
 * take it for a stale one, unlink it and bind its own, leaving the first port unreachable.
 * Refused, naming the path and both ports; the second port never binds.
 */
Test(vcon_open, the_same_path_twice_is_refused)
{
        struct vcon_port_options p[2] = {port_at("alpha", "a.sock"), port_at("beta", "a.sock")};
        int r = virtio_console_open(&con, p, 2, -1, err, sizeof(err));
        char want[512];

        con_open = true;
        cr_assert_eq(r, -EINVAL, "two ports on %s: %d", p[0].path, r);
        snprintf(want, sizeof(want), "port 'beta': path '%s' is taken by port 'alpha'", p[0].path);
        cr_assert_str_eq(err, want);
        cr_assert_eq(con.port[2].listen_fd, -1, "the second port bound a socket");
}

/*
 * wisp's own error path (main -> vm_teardown -> virtio_console_close) closes what a failed
 * virtio_console_open left behind. The port whose bind failed must hold no socket, or close
 * would unlink its path: the regular file that open refused to replace would be deleted.
 */
Test(vcon_open, close_after_a_refused_open_keeps_the_regular_file)
{
        struct vcon_port_options p = port_at("alpha", "a.sock");

        write_file(p.path, "precious\n");
        cr_assert_lt(virtio_console_open(&con, &p, 1, -1, err, sizeof(err)), 0);
        virtio_console_close(&con);
        cr_assert(file_holds(p.path, "precious\n"), "%s was deleted by virtio_console_close",
                  p.path);
}

/*
 * The same path: ports after the one that failed were never set up; their listen_fd and
 * conn_fd must read -1, not 0 (memset), or virtio_console_close closes fd 0 (wisp's stdin).
 */
Test(vcon_open, close_after_a_failed_open_leaves_fd_0_open)
{
        struct vcon_port_options p[2] = {port_at("alpha", "a.sock"), port_at("beta", "b.sock")};
        int saved = dup(0), null = -1;

        if (saved < 0) {
                null = open("/dev/null", O_RDONLY); /* takes fd 0 */
                cr_assert_eq(null, 0);
        }
        write_file(p[0].path, "precious\n");
        cr_assert_lt(virtio_console_open(&con, p, 2, -1, err, sizeof(err)), 0);
        virtio_console_close(&con);
        bool fd0_open = fd_is_open(0);

        if (saved >= 0) {
                dup2(saved, 0);
                close(saved);
        }
        cr_assert(fd0_open, "virtio_console_close closed fd 0");
}
