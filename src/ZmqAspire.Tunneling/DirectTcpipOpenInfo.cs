using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// The type-specific part of a "direct-tcpip" SSH_MSG_CHANNEL_OPEN (RFC 4254 section 7.2): the
/// host and port to connect to, and the originator's address and port. SSH.NET's own
/// <c>DirectTcpipChannelInfo</c> is internal; <see cref="ChannelOpenInfo"/> is public and meant
/// to be derived from, so this needs no reflection.
/// </summary>
internal sealed class DirectTcpipOpenInfo(string host, uint port, string originatorAddress, uint originatorPort) : ChannelOpenInfo
{
    public override string ChannelType => "direct-tcpip";

    protected override void SaveData()
    {
        base.SaveData();
        Write(host);
        Write(port);
        Write(originatorAddress);
        Write(originatorPort);
    }
}
