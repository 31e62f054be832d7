using System.Buffers;
using System.Net.Sockets;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Data from the server to the local socket: written without ever blocking SSH.NET's receive
/// thread, and the window reopened only for bytes the local socket accepted (RFC 4254 section 5.2).
/// </summary>
internal sealed partial class RelayChannel
{
    /// <summary>
    /// The most data held for the end of a read (<see cref="ChannelMux.HoldsData"/>), in bytes:
    /// beyond it the data is written at once, so a read of many large messages does not first copy them all.
    /// </summary>
    private const int HoldLimit = 256 * 1024;

    /// <summary>Called on SSH.NET's receive thread: never blocks.</summary>
    /// <remarks>
    /// When the mux holds data (<see cref="ChannelMux.HoldsData"/>), the data is copied aside and
    /// written when the receive thread has handled the last message of its read
    /// (<see cref="WriteHeld"/>): one send for a read of many small messages, as <c>ssh</c> does.
    /// </remarks>
    internal void OnData(ReadOnlySpan<byte> data)
    {
        RelayCounters.Add(RelayCounter.DataReceived);
        RelayCounters.Add(RelayCounter.BytesReceived, data.Length);
        uint adjust = 0;
        var closeNow = false;
        var startedHolding = false;
        lock (_gate)
        {
            _localWindow -= Math.Min(_localWindow, (uint)data.Length);
            if (_socketClosed || _closeSent)
            {
                return;
            }

            if (_mux.HoldsData && _heldCount + data.Length <= HoldLimit)
            {
                startedHolding = _heldCount == 0;
                Hold(data);
            }
            else
            {
                // In order: what is held goes first.
                closeNow = DeliverHeld(ref adjust) | Deliver(data, ref adjust);
            }
        }

        if (startedHolding)
        {
            _mux.Holding(this);
        }

        SendAdjust(adjust);
        if (closeNow)
        {
            Close(sendClose: true);
        }
    }

    /// <summary>Writes the data held for the end of a read; called by the mux then, and before an EOF or CLOSE is acted on.</summary>
    internal void WriteHeld()
    {
        uint adjust = 0;
        bool closeNow;
        lock (_gate)
        {
            closeNow = DeliverHeld(ref adjust);
        }

        SendAdjust(adjust);
        if (closeNow)
        {
            Close(sendClose: true);
        }
    }

    private void Hold(ReadOnlySpan<byte> data)
    {
        if (_held is null || _held.Length < _heldCount + data.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_heldCount + data.Length, 16 * 1024));
            if (_held is not null)
            {
                _held.AsSpan(0, _heldCount).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_held);
            }

            _held = larger;
        }

        data.CopyTo(_held.AsSpan(_heldCount));
        _heldCount += data.Length;
        RelayCounters.Add(RelayCounter.Held);
    }

    /// <summary>Delivers what is held, under <see cref="_gate"/>; true when the channel must close (the local side is gone).</summary>
    private bool DeliverHeld(ref uint adjust)
    {
        if (_heldCount == 0 || _held is not { } held)
        {
            return false;
        }

        var count = _heldCount;
        _heldCount = 0;
        var closeNow = !_socketClosed && !_closeSent && Deliver(held.AsSpan(0, count), ref adjust);
        _held = null;
        ArrayPool<byte>.Shared.Return(held);
        return closeNow;
    }

    /// <summary>
    /// Writes data to the local socket without blocking, queueing what it does not take, under
    /// <see cref="_gate"/>; adds the window to reopen to <paramref name="adjust"/>. True when
    /// the channel must close (the local side is gone).
    /// </summary>
    private bool Deliver(ReadOnlySpan<byte> data, ref uint adjust)
    {
        var sentFailed = false;
        if (!_writing)
        {
            var sent = TrySendNow(data);
            if (sent < 0)
            {
                // The local side is gone (reset): close, outside the lock.
                _localReadDone = true;
                sentFailed = true;
            }
            else
            {
                adjust += Consumed((uint)sent);
                data = data[sent..];
            }
        }

        if (data.Length > 0 && !_localReadDone)
        {
            RelayCounters.Add(RelayCounter.Queued);
            var buffer = ArrayPool<byte>.Shared.Rent(data.Length);
            data.CopyTo(buffer);
            _pending.Enqueue(new Chunk(buffer, 0, data.Length));
            if (!_writing)
            {
                _writing = true;
                _ = WriteLoopAsync();
            }
        }

        return _localReadDone && !_writing && sentFailed;
    }

    /// <summary>Sends what the socket takes now without waiting; -1 when the socket is reset or closed.</summary>
    private int TrySendNow(ReadOnlySpan<byte> data)
    {
        RelayCounters.Add(RelayCounter.LocalWrites);
        try
        {
            var sent = _socket.Send(data, SocketFlags.None, out var error);
            return error is SocketError.Success or SocketError.WouldBlock ? sent : -1;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }

    /// <summary>Counts bytes the local socket accepted; returns a window to reopen, under <see cref="_gate"/>.</summary>
    private uint Consumed(uint bytes)
    {
        TunnelMeter.Received(bytes);
        _consumed += bytes;
        // OpenSSH's rule (channel_check_window): reopen once half the window, or three packets' worth, is used.
        if (_consumed > 0 && _open && !_closeSent && (_localWindow < _windowSize / 2 || _localWindow < 3 * MaxPacket))
        {
            var adjust = _consumed;
            _localWindow += adjust;
            _consumed = 0;
            return adjust;
        }

        return 0;
    }

    private void SendAdjust(uint bytes)
    {
        if (bytes > 0)
        {
            RelayCounters.Add(RelayCounter.WindowAdjustsSent);
            SendUnlessClosed(new ChannelWindowAdjustMessage(_remoteId, bytes));
        }
    }

    private async Task WriteLoopAsync()
    {
        while (true)
        {
            Chunk chunk;
            lock (_gate)
            {
                if (_pending.Count == 0 || _socketClosed)
                {
                    _writing = false;
                    break;
                }

                chunk = _pending.Peek();
            }

            int sent;
            RelayCounters.Add(RelayCounter.LocalWrites);
            try
            {
                sent = await _socket.SendAsync(chunk.Buffer.AsMemory(chunk.Offset, chunk.Count), SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                lock (_gate)
                {
                    _writing = false;
                    _localReadDone = true;
                }

                Close(sendClose: true);
                return;
            }

            uint adjust;
            lock (_gate)
            {
                if (sent < chunk.Count)
                {
                    _pending.Dequeue();
                    var rest = new Queue<Chunk>(_pending);
                    _pending.Clear();
                    _pending.Enqueue(chunk with { Offset = chunk.Offset + sent, Count = chunk.Count - sent });
                    foreach (var next in rest)
                    {
                        _pending.Enqueue(next);
                    }
                }
                else
                {
                    _pending.Dequeue();
                    ArrayPool<byte>.Shared.Return(chunk.Buffer);
                }

                adjust = Consumed((uint)sent);
            }

            SendAdjust(adjust);
        }

        bool eof, close;
        lock (_gate)
        {
            eof = _eofReceived;
            close = _closeReceived || _socketClosed;
        }

        if (close)
        {
            Close(sendClose: true);
        }
        else if (eof)
        {
            ShutdownSend();
            CloseIfDone();
        }
    }

    private readonly record struct Chunk(byte[] Buffer, int Offset, int Count);
}
