/*
 * Build-time tool: compiles the seccomp allowlists into BPF with libseccomp and
 * writes them as C arrays (build/gen/sandbox_bpf.h). wisp loads the finished
 * programs, so libseccomp's compiler is neither in the binary nor run at boot.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "vmm/sandbox.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The argument conditions of a rule: 0, 1 or 2 comparisons. */
static unsigned int arg_conditions(enum sandbox_args chk, struct scmp_arg_cmp *cmp)
{
        switch (chk) {
        case SANDBOX_ARGS_NO_EXEC: /* mmap(addr, len, prot, ...) */
                cmp[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
                return 1;
        default:
                return 0;
        }
}

/* Calls whose allowed arguments are a set of values: one rule per value. */
static int add_value_rules(scmp_filter_ctx ctx, const struct sandbox_call *call)
{
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        static const int madv[] = {MADV_FREE, MADV_DONTNEED};
        static const int kick[] = {SIGUSR1};
        const int *v = NULL;
        size_t n = 0;
        unsigned int arg = 1;
        int r = 0;

        switch (call->check) {
        case SANDBOX_ARGS_FATAL_SIGNAL: /* tkill(tid, sig) */
                v = fatal, n = N(fatal);
                break;
        case SANDBOX_ARGS_KICK_SIGNAL:
                v = kick, n = N(kick);
                break;
        case SANDBOX_ARGS_MADV_FREE: /* madvise(addr, len, advice) */
                v = madv, n = N(madv), arg = 2;
                break;
        default:
                return -EINVAL;
        }
        for (size_t i = 0; i < n && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, call->nr, 1,
                                     SCMP_CMP(arg, SCMP_CMP_EQ, (scmp_datum_t)v[i]));
        return r;
}

static int add_list(scmp_filter_ctx ctx, const struct sandbox_list *l)
{
        struct scmp_arg_cmp cmp[2];
        int r = 0;

        for (size_t i = 0; i < l->ncalls && r == 0; i++) {
                const struct sandbox_call *c = &l->calls[i];
                unsigned int n;

                switch (c->check) {
                case SANDBOX_ARGS_IOCTL: /* rules per request, below */
                        continue;
                case SANDBOX_ARGS_FATAL_SIGNAL:
                case SANDBOX_ARGS_KICK_SIGNAL:
                case SANDBOX_ARGS_MADV_FREE:
                        r = add_value_rules(ctx, c);
                        continue;
                default:
                        n = arg_conditions(c->check, cmp);
                        r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, c->nr, n, n ? cmp : NULL);
                }
        }
        /* The kernel takes the request as an unsigned int; libc may sign-extend
         * it to 64 bits in the register, so only the low 32 bits are compared. */
        for (size_t i = 0; i < l->nioctls && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SYS_ioctl, 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, l->ioctls[i].req));
        return r;
}

/* Compiles one variant; its BPF (struct sock_filter, host order) into f. 0 or -errno. */
static int compile(enum sandbox_class c, const struct sandbox_config *cfg, FILE *f)
{
        const struct sandbox_list *l[4];
        size_t n = sandbox_lists(c, cfg, l);
        scmp_filter_ctx ctx;
        int r;

        if (n == 0)
                return -EINVAL;
        /* Anything not listed traps into wisp's SIGSYS report, which ends the
         * process; or, in kill mode, the kernel kills the process at the call. */
        ctx = seccomp_init(cfg->kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        for (size_t i = 0; i < n && r == 0; i++)
                r = add_list(ctx, l[i]);
        if (r == 0)
                r = seccomp_export_bpf(ctx, fileno(f));
        seccomp_release(ctx);
        return r;
}

/* Writes variant [c][stats][kill] as an array of instructions; its length, or -errno. */
static long emit(FILE *out, enum sandbox_class c, int stats, int kill)
{
        const struct sandbox_config cfg = {.enabled = true, .stats = stats, .kill = kill};
        FILE *f = tmpfile();
        unsigned char insn[8];
        long n = 0;
        int r;

        if (!f)
                return -errno;
        r = compile(c, &cfg, f);
        if (r < 0) {
                fclose(f);
                return r;
        }
        rewind(f);
        fprintf(out, "static const struct sock_filter sandbox_bpf_%d_%d_%d[] = {\n", c, stats,
                kill);
        while (fread(insn, sizeof(insn), 1, f) == 1) {
                uint16_t code;
                uint32_t k;

                memcpy(&code, insn, 2);
                memcpy(&k, insn + 4, 4);
                fprintf(out, "    {0x%04x, %u, %u, 0x%08x},\n", code, insn[2], insn[3], k);
                n++;
        }
        fprintf(out, "};\n");
        fclose(f);
        return n;
}

int main(void)
{
        long len[SANDBOX_CLASSES][2][2];

        printf("/* Generated by vmm/sandbox_gen.c from vmm/sandbox_lists.c: do not edit. */\n");
        for (int c = 0; c < SANDBOX_CLASSES; c++)
                for (int s = 0; s < 2; s++)
                        for (int k = 0; k < 2; k++) {
                                len[c][s][k] = emit(stdout, (enum sandbox_class)c, s, k);
                                if (len[c][s][k] <= 0) {
                                        fprintf(stderr, "sandbox_gen: class %d: %s\n", c,
                                                strerror((int)-len[c][s][k]));
                                        return 1;
                                }
                        }
        printf("\n/* [class][--stats][--seccomp=kill] */\n");
        printf("static const struct sandbox_bpf sandbox_bpf[%d][2][2] = {\n", SANDBOX_CLASSES);
        for (int c = 0; c < SANDBOX_CLASSES; c++)
                for (int s = 0; s < 2; s++)
                        for (int k = 0; k < 2; k++)
                                printf("    [%d][%d][%d] = {sandbox_bpf_%d_%d_%d, %ld},\n", c, s, k,
                                       c, s, k, len[c][s][k]);
        printf("};\n");
        return fflush(stdout) == 0 ? 0 : 1;
}
