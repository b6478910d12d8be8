"""addReplyHelp: the reply shape every container's HELP subcommand uses."""


def help_reply(argv, lines):
    out = [b"+%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
           % argv[0].upper()]
    out.extend(b"+" + ln.encode() + b"\r\n" for ln in lines)
    out.append(b"+HELP\r\n+    Prints this help.\r\n")
    return b"*%d\r\n" % (len(lines) + 3) + b"".join(out)
