namespace ZmqAspire.TunnelCli;

/// <summary>
/// zmq-tunnel's exit codes. They follow BSD's sysexits.h where one fits, so scripts and
/// supervisors can tell a typo from a refused host key without parsing messages. In child mode
/// (<c>-- command</c>) the exit code is the child's once it has started.
/// </summary>
public static class ExitCodes
{
    /// <summary>Stopped as asked (SIGINT or SIGTERM) with no child process.</summary>
    public const int Ok = 0;

    /// <summary>EX_USAGE: bad arguments (unknown option, malformed server or target, no host key given).</summary>
    public const int Usage = 64;

    /// <summary>EX_NOINPUT: the identity or known_hosts file cannot be read or used (missing, malformed, encrypted without a passphrase).</summary>
    public const int NoInput = 66;

    /// <summary>EX_UNAVAILABLE: the bastion cannot be reached at start (refused, timed out, no SSH handshake).</summary>
    public const int BastionUnreachable = 69;

    /// <summary>EX_SOFTWARE: an internal error (a bug: please report it).</summary>
    public const int Software = 70;

    /// <summary>EX_OSERR: a local port cannot be opened (a fixed <c>--local-port</c> is in use, say).</summary>
    public const int LocalPort = 71;

    /// <summary>EX_PROTOCOL: the bastion refused to open a forward's channel (target closed or not allowed by PermitOpen).</summary>
    public const int ForwardRefused = 76;

    /// <summary>EX_NOPERM: the bastion refused every credential offered.</summary>
    public const int AuthenticationRefused = 77;

    /// <summary>EX_CONFIG: the bastion's host key is not the pinned one, or not in known_hosts; nothing was sent.</summary>
    public const int HostKeyRefused = 78;

    /// <summary>As a shell's: the child command cannot be started (not found or not executable).</summary>
    public const int ChildNotStarted = 127;

    /// <summary>The table <c>--help</c> and the README print.</summary>
    public const string Table = """
        Exit codes (sysexits.h where one fits; with -- COMMAND, the command's own once it runs):
          0    stopped by SIGINT/SIGTERM (no child)
          64   bad usage (EX_USAGE)
          66   identity or known_hosts file unusable (EX_NOINPUT)
          69   bastion unreachable at start (EX_UNAVAILABLE)
          70   internal error (EX_SOFTWARE)
          71   local or health port cannot be opened, e.g. in use (EX_OSERR)
          76   forward refused by the bastion: target closed or not permitted (EX_PROTOCOL)
          77   authentication refused (EX_NOPERM)
          78   host key refused: names the expected and the seen fingerprint (EX_CONFIG)
          127  the child command cannot be started
        """;
}
