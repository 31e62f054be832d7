namespace ZmqAspire.Tunneling.Tests;

/// <summary>Address, endpoint and fingerprint parsing: no network.</summary>
public sealed class ParsingTests
{
    [Theory]
    [InlineData("")]
    [InlineData("host")]
    [InlineData("@host")]
    [InlineData("user@")]
    [InlineData("user@host:0")]
    [InlineData("user@host:70000")]
    [InlineData("user@host:abc")]
    [InlineData("user@::1")]
    [InlineData("user@::1:22")]
    [InlineData("user@[::1")]
    [InlineData("user@[::1]x")]
    [InlineData("user@*")]
    [InlineData("user@*:22")]
    public void Bad_server_address_is_a_format_error_quoting_the_value(string value)
    {
        var ex = Assert.Throws<FormatException>(() => SshServerAddress.Parse(value));

        Assert.Contains($"'{value}'", ex.Message, StringComparison.Ordinal);
        Assert.False(SshServerAddress.TryParse(value, out _));
    }

    [Theory]
    [InlineData("user@host", "user", "host", 22)]
    [InlineData("u@[::1]:2222", "u", "::1", 2222)]
    [InlineData("deploy@127.0.0.1:2200", "deploy", "127.0.0.1", 2200)]
    [InlineData("first.last@corp@bastion:22", "first.last@corp", "bastion", 22)]
    public void Good_server_address_parses_to_its_parts(string value, string user, string host, int port)
    {
        var address = SshServerAddress.Parse(value);

        Assert.Equal(new SshServerAddress(user, host, port), address);
        Assert.Equal(address, SshServerAddress.Parse(address.ToString()));
    }

    [Theory]
    [InlineData("", "host", 22)]
    [InlineData("user", "", 22)]
    [InlineData("user", "*", 22)]
    [InlineData("user", "host", 0)]
    [InlineData("user", "host", 65536)]
    public void Server_address_constructor_refuses_what_parse_refuses(string user, string host, int port)
    {
        Assert.ThrowsAny<ArgumentException>(() => new SshServerAddress(user, host, port));
    }

    [Theory]
    [InlineData("ipc://x")]
    [InlineData("inproc://x")]
    [InlineData("server:5556")]
    [InlineData("tcp://server")]
    [InlineData("tcp://server:70000")]
    [InlineData("tcp://server:-1")]
    [InlineData("tcp://server:abc")]
    [InlineData("tcp://::1:5556")]
    [InlineData("tcp://:5556")]
    [InlineData("tcp://a*b:5556")]
    [InlineData("tcp://user@server:5556")]
    [InlineData("tcp://[::1]x:5556")]
    public void Bad_endpoint_is_a_format_error_quoting_the_value(string value)
    {
        var ex = Assert.Throws<FormatException>(() => TcpEndpoint.Parse(value));

        Assert.Contains($"'{value}'", ex.Message, StringComparison.Ordinal);
        Assert.False(TcpEndpoint.TryParse(value, out _));
        Assert.Throws<FormatException>(() => TcpEndpoint.ParseTarget(value));
    }

    [Theory]
    [InlineData("tcp://server:5556", "server", 5556)]
    [InlineData("tcp://127.0.0.1:1", "127.0.0.1", 1)]
    [InlineData("tcp://[::1]:65535", "::1", 65535)]
    public void Good_endpoint_parses_to_its_parts(string value, string host, int port)
    {
        var endpoint = TcpEndpoint.ParseTarget(value);

        Assert.Equal(new TcpEndpoint(host, port), endpoint);
        Assert.Equal(endpoint, TcpEndpoint.Parse(value));
        Assert.False(endpoint.IsWildcard);
        Assert.Equal(value, endpoint.ToString());
    }

    // Where an SSH server listens, ssh -R takes "*" and port 0 (ssh -R *:0:host:port): so does Parse.
    [Theory]
    [InlineData("tcp://*:7000", "*", 7000)]
    [InlineData("tcp://127.0.0.1:0", "127.0.0.1", 0)]
    [InlineData("tcp://*:0", "*", 0)]
    public void Wildcards_parse_as_listen_endpoints_but_are_no_target(string value, string host, int port)
    {
        var endpoint = TcpEndpoint.Parse(value);

        Assert.Equal(new TcpEndpoint(host, port), endpoint);
        Assert.True(endpoint.IsWildcard);
        Assert.Equal(value, endpoint.ToString());
        var ex = Assert.Throws<FormatException>(() => TcpEndpoint.ParseTarget(value));
        Assert.Contains($"'{value}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("only for where an SSH server listens", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 1)]
    [InlineData("a b", 1)]
    [InlineData("[::1]", 1)]
    [InlineData("a*", 1)]
    public void Constructor_refuses_the_hosts_parse_refuses(string host, int port)
    {
        Assert.Throws<ArgumentException>(() => new TcpEndpoint(host, port));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(65536)]
    public void Constructor_refuses_the_ports_parse_refuses(int port)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpEndpoint("server", port));
    }

    [Fact]
    public async Task A_wildcard_target_is_refused_before_any_network_traffic()
    {
        using var socket = new NetMQ.Sockets.RequestSocket();
        var options = new SshTunnelOptions
        {
            // Nothing listens on port 9 (discard) here; a refused connection would say so.
            Server = new SshServerAddress("nobody", "127.0.0.1", 9),
            HostKey = HostKeyPolicy.Pinned("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
            Password = "unused",
        };

        var ex = await Assert.ThrowsAsync<FormatException>(() => socket.ConnectThroughTunnelAsync("tcp://*:5556", options));

        Assert.Contains("'tcp://*:5556'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("SHA256:tooshort")]
    [InlineData("")]
    public void Malformed_pin_is_an_argument_error(string pin)
    {
        Assert.Throws<ArgumentException>(() => HostKeyPolicy.Pinned(pin));
    }

    [Fact]
    public void Pinning_nothing_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => HostKeyPolicy.Pinned());
    }

    [Fact]
    public void Fingerprint_is_openssh_sha256_form()
    {
        // SHA-256 of the empty input, unpadded base64, as ssh-keygen would print for such a blob.
        Assert.Equal("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", HostKeyPolicy.Fingerprint([]));
    }
}
