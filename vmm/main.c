/* wisp's entry point: parse, set up, run, report. Only main decides to exit. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "boot/layout.h"
#include "vmm/log.h"
#include "vmm/options.h"
#include "vmm/sandbox.h"
#include "vmm/term.h"
#include "vmm/vm.h"

int main(int argc, char **argv)
{
        struct options opt;
        struct vm vm;
        char err[512];
        int status;

        /* Before anything is written: a closed stderr or stdout pipe costs the output, not
         * wisp (the first warning comes before the VM's signal set-up). */
        signal(SIGPIPE, SIG_IGN);
        if (options_parse(argc, argv, &opt, err, sizeof(err)) < 0) {
                wisp_error("%s", err);
                return WISP_EXIT_ERROR;
        }
        if (opt.cmd == WISP_CMD_HELP) {
                fputs(options_usage(), stdout);
                return 0;
        }
        if (opt.cmd == WISP_CMD_PRINT_SECCOMP) {
                sandbox_print(stdout,
                              &(struct sandbox_config){.enabled = true, .kill = opt.seccomp_kill});
                return 0;
        }
        if (opt.cmd == WISP_CMD_VERSION) {
                printf("wisp %s\n", WISP_VERSION);
                return 0;
        }
        log_set_level(opt.verbose >= 2 ? LOG_DEBUG : opt.verbose ? LOG_INFO : LOG_WARN);
        term_install_fatal_handlers();

        if (vm_setup(&vm, &opt, err, sizeof(err)) < 0) {
                wisp_error("%s", err);
                vm_teardown(&vm);
                return WISP_EXIT_ERROR;
        }
        status = vm_run(&vm);
        vm_teardown(&vm);
        term_restore();
        return status;
}
