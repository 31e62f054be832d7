using System.CommandLine;
using System.Globalization;
using System.Net;
using ZmqAspire.Tunneling;

namespace ZmqAspire.TunnelCli;

/// <summary>zmq-tunnel's options (System.CommandLine) and their checks, which turn them into <see cref="TunnelSettings"/>.</summary>
public sealed class CommandLine
{
    private readonly Argument<string> _server = new("server")
    {
        Description = "The SSH bastion, user@host[:port] (port 22 by default).",
    };

    private readonly Argument<string[]> _targets = new("targets")
    {
        Description = "The endpoints to reach, tcp://host:port as the bastion sees them; one forward each.",
        Arity = ArgumentArity.OneOrMore,
    };

    private readonly Option<string[]> _hostKey = new("--host-key")
    {
        Description = "Trust only this host key fingerprint, SHA256:... as ssh-keygen -lf prints it (repeat for a key rotation).",
        HelpName = "SHA256:...",
    };

    private readonly Option<string?> _knownHosts = new("--known-hosts")
    {
        Description = "Trust the keys an OpenSSH known_hosts file lists for the bastion. --host-key or --known-hosts is required: an unknown key is never accepted.",
        HelpName = "FILE",
    };

    private readonly Option<string?> _identity = new("--identity", "-i")
    {
        Description = "The private key to log in with (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa). An encrypted key needs --ask-passphrase.",
        HelpName = "FILE",
    };

    private readonly Option<bool> _askPassphrase = new("--ask-passphrase")
    {
        Description = "Ask the terminal for the identity's passphrase (never asked otherwise).",
    };

    private readonly Option<string?> _passwordEnv = new("--password-env")
    {
        Description = "Log in with the password in this environment variable (a password is never taken on the command line).",
        HelpName = "VAR",
    };

    private readonly Option<int[]> _localPort = new("--local-port")
    {
        Description = "The local port of the next target, in order (repeat per target; 0 or absent: the OS picks one).",
        HelpName = "N",
    };

    private readonly Option<string> _bind = new("--bind")
    {
        Description = "The address the local ports listen on. Another than 127.0.0.1 exposes the bastion's targets to that network.",
        HelpName = "ADDRESS",
        DefaultValueFactory = _ => "127.0.0.1",
    };

    private readonly Option<bool> _json = new("--json")
    {
        Description = "Print the forwards (stdout) and the state changes (stderr) as JSON lines.",
    };

    private readonly Option<bool> _noProbe = new("--no-probe")
    {
        Description = "Do not check each forward end to end at start (by default one connection per target must reach it, or zmq-tunnel exits 76).",
    };

    private readonly Option<double> _connectTimeout = new("--connect-timeout")
    {
        Description = "Seconds a login may take.",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => 10,
    };

    private readonly Option<int?> _healthPort = new("--health-port")
    {
        Description = "Serve a JSON health report on http://127.0.0.1:N/ (0: the OS picks; the port is logged).",
        HelpName = "N",
    };

    /// <summary>Creates the command; <paramref name="run"/> gets the checked settings.</summary>
    /// <param name="run">Runs the tunnel and returns the exit code.</param>
    /// <param name="child">The words after <c>--</c>, split off before parsing.</param>
    public CommandLine(Func<TunnelSettings, Task<int>> run, IReadOnlyList<string> child)
    {
        Root = new RootCommand(
            "zmq-tunnel: reach ZeroMQ endpoints behind an SSH bastion from any program, like ssh -L, pinned and self-healing.\n\n"
            + "  zmq-tunnel tunnel@bastion:22 tcp://server:5556 --host-key SHA256:... [--local-port 5557]\n"
            + "  zmq-tunnel tunnel@bastion:22 tcp://server:5556 --known-hosts ~/.ssh/known_hosts -- python3 client.py {endpoint}\n\n"
            + "Prints 'tcp://127.0.0.1:PORT -> TARGET via SERVER' per forward once they are open, then stays up and logs in again\n"
            + "(same local ports, backoff with jitter) whenever the session dies. With -- COMMAND it runs COMMAND with\n"
            + "ZMQ_TUNNEL_ENDPOINT (first target), ZMQ_TUNNEL_ENDPOINT_1..N and ZMQ_TUNNEL_PORT[_N] in its environment and\n"
            + "{endpoint}, {port}, {endpointN}, {portN} replaced in its arguments, lives as long as it and exits with its code.\n\n"
            + ExitCodes.Table);
        foreach (var argument in new Argument[] { _server, _targets })
        {
            Root.Add(argument);
        }

        foreach (var option in new Option[] { _hostKey, _knownHosts, _identity, _askPassphrase, _passwordEnv, _localPort, _bind, _json, _noProbe, _connectTimeout, _healthPort })
        {
            Root.Add(option);
        }

        Root.SetAction(parse => run(Settings(parse, child)));
    }

    /// <summary>Gets the root command.</summary>
    public RootCommand Root { get; }

    /// <summary>Checks the parsed values. Every refusal is a <see cref="UsageException"/> naming the option.</summary>
    private TunnelSettings Settings(ParseResult parse, IReadOnlyList<string> child)
    {
        var serverText = parse.GetRequiredValue(_server);
        if (!SshServerAddress.TryParse(serverText, out var server))
        {
            throw new UsageException($"'{serverText}' is not an SSH server: expected user@host[:port].");
        }

        var targets = parse.GetRequiredValue(_targets).Select(ParseTarget).ToList();

        var pins = parse.GetValue(_hostKey) ?? [];
        var knownHosts = parse.GetValue(_knownHosts);
        HostKeyPolicy hostKey;
        if (pins.Length > 0 && knownHosts is not null)
        {
            throw new UsageException("Give --host-key or --known-hosts, not both.");
        }
        else if (pins.Length > 0)
        {
            try
            {
                hostKey = HostKeyPolicy.Pinned(pins);
            }
            catch (ArgumentException ex)
            {
                // The library's message without .NET's " (Parameter 'fingerprint')": the user gave --host-key.
                var reason = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal);
                throw new UsageException($"--host-key: {reason}");
            }
        }
        else if (knownHosts is not null)
        {
            hostKey = HostKeyPolicy.KnownHosts(knownHosts);
        }
        else
        {
            throw new UsageException("Give the bastion's host key: --host-key SHA256:... (ssh-keygen -lf its key) or --known-hosts FILE. An unknown host key is never accepted.");
        }

        var passwordEnv = parse.GetValue(_passwordEnv);
        string? password = null;
        if (passwordEnv is not null)
        {
            password = Environment.GetEnvironmentVariable(passwordEnv);
            if (string.IsNullOrEmpty(password))
            {
                throw new UsageException($"--password-env {passwordEnv}: the environment variable is not set.");
            }
        }

        var askPassphrase = parse.GetValue(_askPassphrase);
        // Never block on a redirected stdin: a script would hang waiting for a passphrase.
        if (askPassphrase && Console.IsInputRedirected)
        {
            throw new UsageException("--ask-passphrase needs a terminal on stdin.");
        }

        var localPorts = parse.GetValue(_localPort) ?? [];
        if (localPorts.Length > targets.Count)
        {
            throw new UsageException($"{localPorts.Length} --local-port values for {targets.Count} target(s): give at most one per target.");
        }

        if (localPorts.FirstOrDefault(p => p is < 0 or > 65535, -1) is var badPort and not -1)
        {
            throw new UsageException($"--local-port {badPort.ToString(CultureInfo.InvariantCulture)}: expected a port from 0 to 65535.");
        }

        var fixedPorts = localPorts.Where(p => p != 0).ToList();
        if (fixedPorts.Count != fixedPorts.Distinct().Count())
        {
            throw new UsageException("--local-port: the same port is given twice.");
        }

        var bindText = parse.GetValue(_bind)!;
        if (!IPAddress.TryParse(bindText, out var bind))
        {
            throw new UsageException($"--bind {bindText}: expected an IP address, such as 127.0.0.1.");
        }

        var timeout = parse.GetValue(_connectTimeout);
        if (!(timeout > 0 && timeout <= 3600))
        {
            throw new UsageException("--connect-timeout: expected seconds from 0 to 3600.");
        }

        var healthPort = parse.GetValue(_healthPort);
        if (healthPort is < 0 or > 65535)
        {
            throw new UsageException("--health-port: expected a port from 0 to 65535.");
        }

        return new TunnelSettings(
            server,
            targets,
            hostKey,
            parse.GetValue(_identity),
            askPassphrase,
            password,
            [.. localPorts, .. Enumerable.Repeat(0, targets.Count - localPorts.Length)],
            bind,
            parse.GetValue(_json),
            !parse.GetValue(_noProbe),
            TimeSpan.FromSeconds(timeout),
            healthPort,
            child);
    }

    private static TcpEndpoint ParseTarget(string text)
    {
        // System.CommandLine hands an unknown option to the variadic targets argument.
        if (text.StartsWith('-'))
        {
            throw new UsageException($"unknown option '{text}' (see --help; a password is only read from --password-env).");
        }

        try
        {
            return TcpEndpoint.ParseTarget(text);
        }
        catch (FormatException ex)
        {
            throw new UsageException(ex.Message);
        }
    }
}
