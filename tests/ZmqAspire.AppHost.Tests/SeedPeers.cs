using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.AppHost.Tests;

/// <summary>The seed's peers pointed at the AppHost's bastion.</summary>
internal static class SeedPeers
{
    /// <summary>A fresh local user for the AppHost's bastion.</summary>
    /// <param name="fixture">The running AppHost.</param>
    /// <param name="trustHostKey">Whether known_hosts names the bastion's real host key.</param>
    /// <param name="withClientKey">Whether the client key is installed as a default identity.</param>
    public static SeedPeer For(AppHostFixture fixture, bool trustHostKey = true, bool withClientKey = true)
    {
        var server = fixture.BastionOptions().Server;
        return new SeedPeer(
            server.Host,
            server.Port,
            trustHostKey ? fixture.Keys.HostPublicKey : null,
            withClientKey ? fixture.Keys.ClientPrivateKeyPath : null);
    }
}
