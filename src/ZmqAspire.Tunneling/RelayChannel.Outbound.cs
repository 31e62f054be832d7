using System.Buffers;
using System.Net.Sockets;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Data from the local socket to the server: read on a thread of its own or asynchronously, and
/// sent within the server's window (RFC 4254 section 5.2), waiting for its adjustments without a lock held.
/// </summary>
internal sealed partial class RelayChannel
{
    /// <summary>Bytes read from the local socket at once; sent as messages of the server's maximum packet size.</summary>
    private const int ReadSize = 64 * 1024;

    internal void OnWindowAdjust(uint bytesToAdd)
    {
        TaskCompletionSource opened;
        lock (_gate)
        {
            _remoteWindow = (uint)Math.Min(uint.MaxValue, (ulong)_remoteWindow + bytesToAdd);
            opened = _windowOpened;
        }

        opened.TrySetResult();
    }

    private void ReadLoop()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        var drained = false;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    // The socket is non-blocking (for the receive thread's sends): take what is
                    // there, and when nothing is, wait in poll(), which wakes this thread directly.
                    // A read that did not fill the buffer took everything there was: wait first
                    // rather than read again, since the next read finds nothing in about 94% of
                    // the cases, even in a 64 B stream (the profile in docs/benchmarks.md).
                    if (drained)
                    {
                        _socket.Poll(-1, SelectMode.SelectRead);
                    }

                    var found = ReadLocal(buffer, out read);
                    if (found == LocalRead.Nothing)
                    {
                        RelayCounters.Add(RelayCounter.EmptyReads);
                        drained = true;
                        continue;
                    }

                    if (found == LocalRead.Ended)
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    break;
                }

                if (read == 0)
                {
                    EndOfLocalStream();
                    return;
                }

                RelayCounters.Add(RelayCounter.LocalReads);
                drained = read < buffer.Length;

                if (!SendData(buffer, read))
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        LocalReadEnded();
    }

    /// <summary>What one read of the local socket found.</summary>
    private enum LocalRead
    {
        /// <summary>Bytes, or 0 at the end of the peer's stream.</summary>
        Data,

        /// <summary>Nothing yet (the socket is non-blocking).</summary>
        Nothing,

        /// <summary>The socket is closing, or was reset: the connection ends, which is no failure.</summary>
        Ended,
    }

    /// <summary>
    /// Reads what the local socket holds, without waiting, under <see cref="_readGate"/>: nothing
    /// once <see cref="CloseSocket"/> has begun, so what the peer sent is left unread (see _readGate).
    /// </summary>
    private LocalRead ReadLocal(byte[] buffer, out int read)
    {
        SocketError error;
        lock (_readGate)
        {
            if (_readsStopped)
            {
                read = 0;
                return LocalRead.Ended;
            }

            read = _socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out error);
        }

        return error switch
        {
            SocketError.Success => LocalRead.Data,
            SocketError.WouldBlock => LocalRead.Nothing,
            _ => LocalRead.Ended,
        };
    }

    private async Task ReadLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        var drained = false;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    // Wait for data without taking it (.NET answers a zero-byte receive with a
                    // one-byte peek), then take it with a non-blocking read under _readGate, as
                    // ReadLoop does: a receive with a buffer could complete after CloseSocket's
                    // shutdown and take what the target had queued (see _readGate). After a read
                    // that did not fill the buffer, wait first rather than read again (ReadLoop).
                    if (drained)
                    {
                        await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                    }

                    var found = ReadLocal(buffer, out read);
                    if (found == LocalRead.Nothing)
                    {
                        drained = true;
                        continue;
                    }

                    if (found == LocalRead.Ended)
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // A reset or our own close: the connection ends, which is no failure.
                    break;
                }

                if (read == 0)
                {
                    EndOfLocalStream();
                    return;
                }

                drained = read < buffer.Length;
                if (!await SendDataAsync(buffer, read).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        LocalReadEnded();
    }

    /// <summary>The local client closed its sending side: SSH_MSG_CHANNEL_EOF, the other direction stays open.</summary>
    private void EndOfLocalStream()
    {
        SendEofOnce();
        lock (_gate)
        {
            _localReadDone = true;
        }

        CloseIfDone();
    }

    /// <summary>The local connection was reset or closed (by either side): the channel closes.</summary>
    private void LocalReadEnded()
    {
        lock (_gate)
        {
            _localReadDone = true;
        }

        Close(sendClose: true);
    }

    /// <summary>
    /// Sends local data within the server's window on the reader's own thread, which waits for the
    /// window there when it is closed; false when the channel is closing.
    /// </summary>
    /// <remarks>
    /// Not <see cref="SendDataAsync"/> blocked on: its continuation after a window wait runs on a
    /// pool thread (the completion source runs continuations asynchronously), which then did the
    /// sending while this thread waited for it, two wake-ups instead of one per window adjust
    /// (about 7 per 1 MiB message, docs/benchmarks.md). A synchronous wait on the task is woken
    /// directly by the thread that completes it.
    /// </remarks>
    private bool SendData(byte[] buffer, int count)
    {
        var offset = 0;
        while (offset < count)
        {
            switch (Reserve(count - offset, out var size, out var remoteId, out var waitForWindow))
            {
                case Reservation.Closing:
                    return false;
                case Reservation.WaitForWindow:
                    waitForWindow.Wait();
                    continue;
            }

            if (!Transmit(remoteId, buffer, offset, size))
            {
                return false;
            }

            offset += size;
        }

        return true;
    }

    /// <summary>Sends local data within the server's window, waiting for it without a thread; false when the channel is closing.</summary>
    private async Task<bool> SendDataAsync(byte[] buffer, int count)
    {
        var offset = 0;
        while (offset < count)
        {
            switch (Reserve(count - offset, out var size, out var remoteId, out var waitForWindow))
            {
                case Reservation.Closing:
                    return false;
                case Reservation.WaitForWindow:
                    await waitForWindow.ConfigureAwait(false);
                    continue;
            }

            if (!Transmit(remoteId, buffer, offset, size))
            {
                return false;
            }

            offset += size;
        }

        return true;
    }

    /// <summary>
    /// Takes up to <paramref name="wanted"/> bytes of the server's window, at most one packet
    /// (<paramref name="size"/>), or gives the task that completes when the window reopens.
    /// </summary>
    private Reservation Reserve(int wanted, out int size, out uint remoteId, out Task waitForWindow)
    {
        lock (_gate)
        {
            remoteId = _remoteId;
            waitForWindow = Task.CompletedTask;
            size = 0;
            // _socketClosed too: CloseSocket wakes a reader waiting for the window before an
            // abort sends our CLOSE, and a reader that then found no window waited for a new
            // one for good (a thread per such channel, when a forward was disposed).
            if (_closeSent || _closeReceived || _eofSent || _socketClosed)
            {
                return Reservation.Closing;
            }

            size = (int)Math.Min(Math.Min(_remoteWindow, _remoteMaxPacket), (uint)wanted);
            if (size == 0)
            {
                if (_windowOpened.Task.IsCompleted)
                {
                    _windowOpened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                waitForWindow = _windowOpened.Task;
                return Reservation.WaitForWindow;
            }

            _remoteWindow -= (uint)size;
            return Reservation.Send;
        }
    }

    /// <summary>Sends one SSH_MSG_CHANNEL_DATA of window already reserved; false when the session is down.</summary>
    private bool Transmit(uint remoteId, byte[] buffer, int offset, int size)
    {
        if (!SendUnlessClosed(new ChannelDataMessage(remoteId, buffer, offset, size)))
        {
            return false;
        }

        TunnelMeter.Transmitted(size);
        RelayCounters.Add(RelayCounter.DataSent);
        RelayCounters.Add(RelayCounter.BytesSent, size);
        return true;
    }

    private enum Reservation
    {
        Send,
        WaitForWindow,
        Closing,
    }

    private void SendEofOnce()
    {
        uint remoteId;
        lock (_gate)
        {
            if (_eofSent || _closeSent || !_open)
            {
                return;
            }

            _eofSent = true;
            remoteId = _remoteId;
        }

        SendUnlessClosed(new ChannelEofMessage(remoteId));
    }
}
