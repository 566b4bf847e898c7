/* test-init-config.c — kernel command line, migrator.conf, args splitting,
 * layering and the job's argv (init/config.c). */
#include <errno.h>
#include <stdlib.h>

#include "tap.h"
#include "config.h"

static char warnings[4096];
static int n_warnings;

static void warn(void *data, const char *msg)
{
	size_t l = strlen(warnings);
	n_warnings++;
	snprintf(warnings + l, sizeof(warnings) - l, "%s|", msg);
}

static void reset_warnings(void)
{
	warnings[0] = '\0';
	n_warnings = 0;
}

TEST(cmdline_kernel_quoting)
{
	struct cmdline c;

	CHECK_INT(cmdline_parse("BOOT_IMAGE=/vmlinuz ro  quiet console=ttyS0,115200n8 "
				"migrator.args=\"-t /dev/vda --label 'my disk'\" "
				"\"migrator.x=a b\" empty= flag\n", &c), 0);
	CHECK_INT(c.n, 8);
	CHECK_STR(c.v[0].key, "BOOT_IMAGE");
	CHECK_STR(c.v[0].value, "/vmlinuz");
	CHECK_STR(c.v[1].key, "ro");
	CHECK(c.v[1].value == NULL);
	CHECK_STR(c.v[3].value, "ttyS0,115200n8");
	CHECK_STR(c.v[4].key, "migrator.args");
	CHECK_STR(c.v[4].value, "-t /dev/vda --label 'my disk'");
	/* The whole word quoted: the kernel strips both quotes. */
	CHECK_STR(c.v[5].key, "migrator.x");
	CHECK_STR(c.v[5].value, "a b");
	CHECK_STR(c.v[6].key, "empty");
	CHECK_STR(c.v[6].value, "");
	CHECK_STR(c.v[7].key, "flag");
	cmdline_free(&c);
}

TEST(cmdline_kernel_edge_cases)
{
	struct cmdline c;
	bool found;

	/* Inner quotes stay (the kernel only strips them at the value's ends);
	 * an unterminated quote runs to the end of the line. */
	CHECK_INT(cmdline_parse("a=b\"c d\"e x=\"unterminated y=1", &c), 0);
	CHECK_INT(c.n, 2);
	CHECK_STR(c.v[0].value, "b\"c d\"e");
	CHECK_STR(c.v[1].key, "x");
	CHECK_STR(c.v[1].value, "unterminated y=1");
	cmdline_free(&c);

	CHECK_INT(cmdline_parse("", &c), 0);
	CHECK_INT(c.n, 0);
	cmdline_free(&c);

	CHECK_INT(cmdline_parse("k=1 k=2 -- k=3 flag", &c), 0);
	CHECK_STR(cmdline_get(&c, "k", NULL), "3");     /* the last one wins */
	CHECK(cmdline_get(&c, "flag", &found) == NULL && found);
	CHECK(cmdline_get(&c, "nope", &found) == NULL && !found);
	cmdline_free(&c);
}

TEST(cmdline_limits)
{
	struct cmdline c;
	size_t n = CMDLINE_ITEMS_MAX + 1;
	char *s = malloc(n * 2 + 1);

	for (size_t i = 0; i < n; i++) {
		s[2 * i] = 'a';
		s[2 * i + 1] = ' ';
	}
	s[n * 2] = '\0';
	CHECK_INT(cmdline_parse(s, &c), -E2BIG);
	free(s);

	s = malloc(CMDLINE_MAX + 2);
	memset(s, 'x', CMDLINE_MAX + 1);
	s[CMDLINE_MAX + 1] = '\0';
	CHECK_INT(cmdline_parse(s, &c), -E2BIG);
	free(s);
}

TEST(config_from_cmdline_keys)
{
	struct cmdline c;
	struct init_config cfg = { 0 };

	reset_warnings();
	CHECK_INT(cmdline_parse("ip=dhcp migrator.mode=receive migrator.exit=poweroff "
				"migrator.args=\"--port 8443\" migrator.dry_run migrator.token=abc "
				"migrator.config=metadata migrator.debug=stream "
				"migrator.Bad=1 migrator.exit=sometimes migrator.mode=../x "
				"migrator.ip=1.2.3.4 other.key=1", &c), 0);
	CHECK_INT(config_from_cmdline(&cfg, &c, warn, NULL), 0);
	CHECK_STR(cfg.mode, "receive");
	CHECK(cfg.exit_set && cfg.exit == EXIT_POWEROFF);  /* the bad one is ignored */
	CHECK_STR(cfg.args, "--port 8443");
	CHECK_STR(cfg.config, "metadata");
	CHECK_STR(cfg.debug, "stream");
	CHECK_INT(cfg.n_ip, 1);
	CHECK_STR(cfg.ip[0], "dhcp");
	CHECK_INT(cfg.n_opts, 2);
	CHECK_STR(cfg.opts[0].key, "dry-run");
	CHECK(cfg.opts[0].value == NULL);
	CHECK_STR(cfg.opts[1].key, "token");
	CHECK_STR(cfg.opts[1].value, "abc");
	CHECK_INT(n_warnings, 4);       /* Bad, sometimes, ../x, migrator.ip */
	CHECK(strstr(warnings, "invalid exit action 'sometimes'") != NULL);
	CHECK(strstr(warnings, "invalid mode '../x'") != NULL);
	config_free(&cfg);
	cmdline_free(&c);
}

TEST(conf_file)
{
	static const char text[] =
		"# migrator.conf\r\n"
		"\n"
		"mode = send\r\n"
		"  args=\"--to https://10.0.0.5:8443 --label 'root disk'\"\n"
		"migrator.exit=reboot\n"
		"exit = 'shell'   \n"
		"ip=10.0.0.9::10.0.0.1:255.255.255.0::eth0:off\n"
		"ip=eth1:dhcp\n"
		"token=\"s3cr=t\"\n"
		"yes\n"
		"config=metadata\n"
		"not a key line\n"
		"=value\n"
		"unterminated='x\n";
	struct init_config cfg = { 0 };

	reset_warnings();
	CHECK_INT(config_from_conf(&cfg, text, sizeof(text) - 1, "test.conf", warn, NULL), 0);
	CHECK_STR(cfg.mode, "send");
	CHECK_STR(cfg.args, "--to https://10.0.0.5:8443 --label 'root disk'");
	CHECK(cfg.exit_set && cfg.exit == EXIT_SHELL);
	CHECK(cfg.config == NULL);      /* only the command line picks the source */
	CHECK_INT(cfg.n_ip, 2);
	CHECK_STR(cfg.ip[1], "eth1:dhcp");
	CHECK_INT(cfg.n_opts, 3);
	CHECK_STR(cfg.opts[0].key, "token");
	CHECK_STR(cfg.opts[0].value, "s3cr=t");
	CHECK_STR(cfg.opts[1].key, "yes");
	CHECK(cfg.opts[1].value == NULL);
	CHECK_STR(cfg.opts[2].key, "unterminated");
	CHECK_STR(cfg.opts[2].value, "'x");
	CHECK_INT(n_warnings, 3);       /* config=, "not a key line", "=value" */
	CHECK(strstr(warnings, "test.conf line 11:") != NULL);
	CHECK(strstr(warnings, "test.conf line 12:") != NULL);
	config_free(&cfg);
}

TEST(conf_file_rejects_binary_and_big)
{
	struct init_config cfg = { 0 };
	char *big;

	CHECK_INT(config_from_conf(&cfg, "mode=x\0y", 8, "bin", warn, NULL), -EINVAL);
	big = malloc(CONF_FILE_MAX + 1);
	memset(big, '#', CONF_FILE_MAX + 1);
	CHECK_INT(config_from_conf(&cfg, big, CONF_FILE_MAX + 1, "big", warn, NULL), -EINVAL);
	free(big);

	/* A line over CONF_LINE_MAX is skipped with a warning, the rest is read. */
	big = malloc(CONF_LINE_MAX + 64);
	memset(big, 'a', CONF_LINE_MAX + 10);
	memcpy(big, "args=", 5);
	memcpy(big + CONF_LINE_MAX + 10, "\nmode=shell\n", 12);
	reset_warnings();
	CHECK_INT(config_from_conf(&cfg, big, CONF_LINE_MAX + 22, "long", warn, NULL), 0);
	CHECK(cfg.args == NULL);
	CHECK_STR(cfg.mode, "shell");
	CHECK_INT(n_warnings, 1);
	free(big);
	config_free(&cfg);
}

TEST(layers_merge)
{
	struct init_config file = { 0 }, cmd = { 0 }, out = { 0 };
	static const char ftext[] = "mode=send\nexit=poweroff\nargs=a b\ntoken=1\nlevel=3\n"
				    "ip=eth0:dhcp\n";
	struct cmdline c;

	CHECK_INT(config_from_conf(&file, ftext, sizeof(ftext) - 1, "f", warn, NULL), 0);
	CHECK_INT(cmdline_parse("migrator.mode=receive migrator.token=2 migrator.new", &c), 0);
	CHECK_INT(config_from_cmdline(&cmd, &c, warn, NULL), 0);
	CHECK_INT(config_merge(&out, &file), 0);
	CHECK_INT(config_merge(&out, &cmd), 0);
	CHECK_STR(out.mode, "receive");
	CHECK(out.exit_set && out.exit == EXIT_POWEROFF);
	CHECK_STR(out.args, "a b");
	CHECK_INT(out.n_ip, 1);
	CHECK_INT(out.n_opts, 3);
	CHECK_STR(out.opts[0].key, "token");
	CHECK_STR(out.opts[0].value, "2");
	CHECK_STR(out.opts[1].key, "level");
	CHECK_STR(out.opts[2].key, "new");
	config_free(&file);
	config_free(&cmd);
	config_free(&out);
	cmdline_free(&c);
}

static int split(const char *s, char ***argv)
{
	size_t n;
	int r = config_split_args(s, argv, &n);
	return r < 0 ? r : (int)n;
}

TEST(split_args_shell_rules)
{
	char **a;

	CHECK_INT(split("  -t /dev/vda\t--label 'my disk'  ", &a), 4);
	CHECK_STR(a[2], "--label");
	CHECK_STR(a[3], "my disk");
	CHECK(a[4] == NULL);
	config_argv_free(a);

	CHECK_INT(split("\"a \\\"b\\\" \\$HOME \\x\" 'c\\d' e\\ f g''h \"\" $HOME *", &a), 7);
	CHECK_STR(a[0], "a \"b\" $HOME \\x");
	CHECK_STR(a[1], "c\\d");
	CHECK_STR(a[2], "e f");
	CHECK_STR(a[3], "gh");
	CHECK_STR(a[4], "");
	CHECK_STR(a[5], "$HOME");        /* no expansion */
	CHECK_STR(a[6], "*");            /* no globbing */
	config_argv_free(a);

	CHECK_INT(split("", &a), 0);
	CHECK(a[0] == NULL);
	config_argv_free(a);

	CHECK_INT(split("'open", &a), -EINVAL);
	CHECK_INT(split("\"open", &a), -EINVAL);
	CHECK_INT(split("trailing\\", &a), -EINVAL);
}

TEST(split_args_limits)
{
	char *s = malloc(ARGS_WORDS_MAX * 2 + 3);
	char **a;

	for (int i = 0; i < ARGS_WORDS_MAX + 1; i++) {
		s[2 * i] = 'w';
		s[2 * i + 1] = ' ';
	}
	s[(ARGS_WORDS_MAX + 1) * 2] = '\0';
	CHECK_INT(split(s, &a), -E2BIG);
	free(s);
}

TEST(job_argv)
{
	struct init_config cfg = { 0 };
	struct cmdline c;
	const char *why;
	char **argv;

	CHECK_INT(cmdline_parse("migrator.mode=receive migrator.listen=0.0.0.0:8443 "
				"migrator.yes migrator.args=\"/dev/vda 'b c'\"", &c), 0);
	CHECK_INT(config_from_cmdline(&cfg, &c, warn, NULL), 0);
	CHECK_INT(config_job_argv(&cfg, "/bin/migrator", &argv, &why), 0);
	CHECK_STR(argv[0], "/bin/migrator");
	CHECK_STR(argv[1], "receive");
	CHECK_STR(argv[2], "--listen=0.0.0.0:8443");
	CHECK_STR(argv[3], "--yes");
	CHECK_STR(argv[4], "/dev/vda");
	CHECK_STR(argv[5], "b c");
	CHECK(argv[6] == NULL);
	config_argv_free(argv);
	cmdline_free(&c);

	free(cfg.args);
	cfg.args = strdup("'unterminated");
	CHECK_INT(config_job_argv(&cfg, "/bin/migrator", &argv, &why), -EINVAL);
	CHECK(why != NULL);
	config_free(&cfg);
	CHECK_INT(config_job_argv(&cfg, "/bin/migrator", &argv, &why), -EINVAL);
}

TEST(key_validity)
{
	CHECK(config_key_valid("mode"));
	CHECK(config_key_valid("dry_run"));
	CHECK(config_key_valid("0x"));
	CHECK(!config_key_valid(""));
	CHECK(!config_key_valid("-x"));
	CHECK(!config_key_valid("Mode"));
	CHECK(!config_key_valid("a.b"));
	CHECK(!config_key_valid("a b"));
	CHECK(!config_key_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

TEST(secrets_redacted)
{
	struct cmdline c;
	char buf[256];

	CHECK(config_key_secret("token"));
	CHECK(config_key_secret("luks-passphrase"));
	CHECK(config_key_secret("AUTH"));
	CHECK(!config_key_secret("listen"));
	CHECK(!config_key_secret("tls-pin"));
	CHECK_INT(cmdline_parse("ro migrator.token=abc migrator.args=\"a b\" token=keep "
				"migrator.mode=send migrator.password", &c), 0);
	cmdline_format_redacted(&c, buf, sizeof(buf));
	CHECK_STR(buf, "ro migrator.token=*** migrator.args=\"a b\" token=keep migrator.mode=send "
		  "migrator.password");
	cmdline_format_redacted(&c, buf, 10);
	CHECK_INT(strlen(buf), 9);
	cmdline_free(&c);
}

int main(void)
{
	RUN(secrets_redacted);
	RUN(cmdline_kernel_quoting);
	RUN(cmdline_kernel_edge_cases);
	RUN(cmdline_limits);
	RUN(config_from_cmdline_keys);
	RUN(conf_file);
	RUN(conf_file_rejects_binary_and_big);
	RUN(layers_merge);
	RUN(split_args_shell_rules);
	RUN(split_args_limits);
	RUN(job_argv);
	RUN(key_validity);
	return tap_done();
}
