using Renci.SshNet;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Benchmarks;

/// <summary>How the client reaches the server: directly, or through one SSH session.</summary>
internal abstract class Transport : IDisposable
{
    protected Transport(string id, string title)
    {
        Id = id;
        Title = title;
    }

    /// <summary>Gets the short name used in mode ids: direct, ssh-L, tunnel, sshnet.</summary>
    public string Id { get; }

    public string Title { get; }

    /// <summary>Gets the ports to connect to on 127.0.0.1 for the server's sockets.</summary>
    public ServerPorts Ports { get; protected set; } = new(0, 0, 0, 0, 0);

    /// <summary>Gets the negotiated SSH cipher, or null for a direct connection.</summary>
    public virtual string? Cipher => null;

    /// <summary>Gets the pid of a helper process that carries the tunnel (ssh), if any.</summary>
    public virtual int? HelperPid => null;

    public abstract void Dispose();
}

internal sealed class DirectTransport : Transport
{
    public DirectTransport(ServerPorts ports)
        : base("direct", "direct")
    {
        Ports = ports;
    }

    public override void Dispose()
    {
    }
}

/// <summary>OpenSSH's <c>ssh -N -L</c>: one process, one SSH connection, one forward per server port.</summary>
internal sealed class SshLTransport : Transport
{
    private readonly SshForward _ssh;

    public SshLTransport(Sshd sshd, ServerPorts server)
        : base("ssh-L", "OpenSSH ssh -L")
    {
        _ssh = SshForward.Start(sshd, server.Forwarded, "bench");
        Ports = server.Through(_ssh.LocalPorts);
    }

    public override string? Cipher => _ssh.Cipher;

    public override int? HelperPid => _ssh.Pid;

    public override void Dispose() => _ssh.Dispose();
}

/// <summary>Our tunnel (src/ZmqAspire.Tunneling): one <see cref="SshTunnelSession"/>, one forward per server port.</summary>
internal sealed class TunnelTransport : Transport
{
    private readonly SshTunnelSession _session;

    /// <summary>The transport id of our tunnel with OpenSSH's 2 MiB channel window (the "before" of <see cref="SshTunnelOptions.ChannelWindowSize"/>).</summary>
    public const string OpenSshWindowId = "tunnel-w2M";

    /// <summary>The transport id of our tunnel with SSH.NET's 137 KB session receive buffer (the "before" of issue #19's fix).</summary>
    public const string SshNetBuffersId = "tunnel-b137K";

    /// <summary>OpenSSH's channel window, 2 MiB, in bytes.</summary>
    public const int OpenSshWindow = 2 * 1024 * 1024;

    private TunnelTransport(SshTunnelSession session, ServerPorts ports, string id, string title)
        : base(id, title)
    {
        _session = session;
        Ports = ports;
    }

    public override string? Cipher => _session.NegotiatedCipher;

    /// <summary>
    /// Connects a session (with the default channel window, or <paramref name="window"/> bytes;
    /// with SSH.NET's session receive buffer when <paramref name="sshNetBuffers"/>) and opens a forward per server port.
    /// </summary>
    public static async Task<TunnelTransport> StartAsync(Sshd sshd, ServerPorts server, int? window = null, bool sshNetBuffers = false)
    {
        var options = sshd.TunnelOptions();
        if (window is { } bytes)
        {
            options.ChannelWindowSize = bytes;
        }

        options.KeepSshNetSocketBuffers = sshNetBuffers;
        var (id, title) = sshNetBuffers ? (SshNetBuffersId, "ZmqAspire tunnel, SSH.NET's receive buffer")
            : window is null ? ("tunnel", "ZmqAspire tunnel") : (OpenSshWindowId, "ZmqAspire tunnel, 2 MiB window");

        var session = await SshTunnelSession.ConnectAsync(options).ConfigureAwait(false);
        var ports = server.Through([.. server.Forwarded.Select(port => session.OpenLocalForward(new TcpEndpoint("127.0.0.1", port)).LocalPort)]);
        return new TunnelTransport(session, ports, id, title);
    }

    public override void Dispose() => _session.Dispose();
}

/// <summary>
/// SSH.NET used as its documentation shows, with no tuning: <see cref="SshClient"/> and
/// <see cref="ForwardedPortLocal"/> with default settings. The "before" of our fast path.
/// </summary>
internal sealed class PlainSshNetTransport : Transport
{
    private readonly SshClient _client;

    private PlainSshNetTransport(SshClient client, ServerPorts ports)
        : base("sshnet", "SSH.NET defaults")
    {
        _client = client;
        Ports = ports;
    }

    public override string? Cipher
    {
        get
        {
            var info = _client.ConnectionInfo;
            var cipher = info.CurrentClientEncryption ?? "?";
            return cipher.Contains("gcm", StringComparison.Ordinal) || cipher.Contains("poly1305", StringComparison.Ordinal)
                ? cipher
                : $"{cipher} + {info.CurrentClientHmacAlgorithm}";
        }
    }

    /// <summary>Connects an <see cref="SshClient"/> with SSH.NET's defaults; the host key pinned as our tunnel does.</summary>
    public static async Task<SshClient> ConnectClientAsync(Sshd sshd)
    {
        var key = new PrivateKeyFile(sshd.ClientKeyPath);
        var info = new ConnectionInfo(sshd.Host, sshd.Port, sshd.User, new PrivateKeyAuthenticationMethod(sshd.User, key));
        var client = new SshClient(info);
        client.HostKeyReceived += (_, e) => e.CanTrust = HostKeyPolicy.Fingerprint(e.HostKey) == sshd.HostKeyFingerprint;
        await client.ConnectAsync(CancellationToken.None).ConfigureAwait(false);
        return client;
    }

    /// <summary>Opens a <see cref="ForwardedPortLocal"/> on 127.0.0.1:0 to 127.0.0.1:port, as SSH.NET's documentation shows.</summary>
    public static int Forward(SshClient client, int port)
    {
        var forward = new ForwardedPortLocal("127.0.0.1", 0, "127.0.0.1", (uint)port);
        client.AddForwardedPort(forward);
        forward.Start();
        return (int)forward.BoundPort;
    }

    /// <summary>Stops every forward, then disconnects.</summary>
    public static void Close(SshClient client)
    {
        foreach (var port in client.ForwardedPorts.ToList())
        {
            port.Stop();
        }

        client.Disconnect();
        client.Dispose();
    }

    public static async Task<PlainSshNetTransport> StartAsync(Sshd sshd, ServerPorts server)
    {
        var client = await ConnectClientAsync(sshd).ConfigureAwait(false);
        int Forward(int port) => PlainSshNetTransport.Forward(client, port);
        var ports = new ServerPorts(Forward(server.Rep), Forward(server.Router), Forward(server.Pull), server.Control, Forward(server.Tcp));
        return new PlainSshNetTransport(client, ports);
    }

    public override void Dispose() => Close(_client);
}

/// <summary>Runs an action on dispose.</summary>
internal sealed class Disposable(Action dispose) : IDisposable
{
    public void Dispose() => dispose();
}
