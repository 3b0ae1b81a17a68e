/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const ICD = $root.ICD = (() => {

    /**
     * Namespace ICD.
     * @exports ICD
     * @namespace
     */
    const ICD = {};

    ICD.Request = (function() {

        /**
         * Properties of a Request.
         * @typedef {Object} ICD.Request.$Properties
         * @property {Uint8Array|null} [user] Request user
         * @property {Uint8Array|null} [authToken] Request authToken
         * @property {Array.<Uint8Array>|null} [identifiers] Request identifiers
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a Request.
         * @memberof ICD
         * @interface IRequest
         * @augments ICD.Request.$Properties
         * @deprecated Use ICD.Request.$Properties instead.
         */

        /**
         * Shape of a Request.
         * @typedef {ICD.Request.$Properties} ICD.Request.$Shape
         */

        /**
         * Constructs a new Request.
         * @memberof ICD
         * @classdesc Represents a Request.
         * @constructor
         * @param {ICD.Request.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Request = function (properties) {
            this.identifiers = [];
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Request user.
         * @member {Uint8Array} user
         * @memberof ICD.Request
         * @instance
         */
        Request.prototype.user = $util.newBuffer([]);

        /**
         * Request authToken.
         * @member {Uint8Array} authToken
         * @memberof ICD.Request
         * @instance
         */
        Request.prototype.authToken = $util.newBuffer([]);

        /**
         * Request identifiers.
         * @member {Array.<Uint8Array>} identifiers
         * @memberof ICD.Request
         * @instance
         */
        Request.prototype.identifiers = $util.emptyArray;

        /**
         * Encodes the specified Request message. Does not implicitly {@link ICD.Request.verify|verify} messages.
         * @function encode
         * @memberof ICD.Request
         * @static
         * @param {ICD.Request.$Properties} message Request message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Request.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.user != null && $Object.hasOwnProperty.call(message, "user") && message.user.length)
                writer.uint32(/* id 1, wireType 2 =*/10).bytes(message.user);
            if (message.authToken != null && $Object.hasOwnProperty.call(message, "authToken") && message.authToken.length)
                writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.authToken);
            if (message.identifiers != null && message.identifiers.length)
                for (let i = 0; i < message.identifiers.length; ++i)
                    writer.uint32(/* id 3, wireType 2 =*/26).bytes(message.identifiers[i]);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a Request message from the specified reader or buffer.
         * @function decode
         * @memberof ICD.Request
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {ICD.Request & ICD.Request.$Shape} Request
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Request.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            let end, message, value;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.ICD.Request();
            while (reader.pos < end) {
                let start = reader.pos;
                let tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                let wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.user = value;
                        else
                            delete message.user;
                        continue;
                    }
                case 2: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.authToken = value;
                        else
                            delete message.authToken;
                        continue;
                    }
                case 3: {
                        if (wireType !== 2)
                            break;
                        if (!(message.identifiers && message.identifiers.length))
                            message.identifiers = [];
                        message.identifiers.push(reader.bytes());
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        return Request;
    })();

    ICD.Response = (function() {

        /**
         * Properties of a Response.
         * @typedef {Object} ICD.Response.$Properties
         * @property {ICD.Response.Result|null} [result] Response result
         * @property {Array.<Uint8Array>|null} [addedUsers] Response addedUsers
         * @property {Array.<Uint8Array>|null} [removedUsers] Response removedUsers
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a Response.
         * @memberof ICD
         * @interface IResponse
         * @augments ICD.Response.$Properties
         * @deprecated Use ICD.Response.$Properties instead.
         */

        /**
         * Shape of a Response.
         * @typedef {ICD.Response.$Properties} ICD.Response.$Shape
         */

        /**
         * Constructs a new Response.
         * @memberof ICD
         * @classdesc Represents a Response.
         * @constructor
         * @param {ICD.Response.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Response = function (properties) {
            this.addedUsers = [];
            this.removedUsers = [];
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Response result.
         * @member {ICD.Response.Result} result
         * @memberof ICD.Response
         * @instance
         */
        Response.prototype.result = 0;

        /**
         * Response addedUsers.
         * @member {Array.<Uint8Array>} addedUsers
         * @memberof ICD.Response
         * @instance
         */
        Response.prototype.addedUsers = $util.emptyArray;

        /**
         * Response removedUsers.
         * @member {Array.<Uint8Array>} removedUsers
         * @memberof ICD.Response
         * @instance
         */
        Response.prototype.removedUsers = $util.emptyArray;

        /**
         * Encodes the specified Response message. Does not implicitly {@link ICD.Response.verify|verify} messages.
         * @function encode
         * @memberof ICD.Response
         * @static
         * @param {ICD.Response.$Properties} message Response message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Response.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.result != null && $Object.hasOwnProperty.call(message, "result") && message.result !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).int32(message.result);
            if (message.addedUsers != null && message.addedUsers.length)
                for (let i = 0; i < message.addedUsers.length; ++i)
                    writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.addedUsers[i]);
            if (message.removedUsers != null && message.removedUsers.length)
                for (let i = 0; i < message.removedUsers.length; ++i)
                    writer.uint32(/* id 3, wireType 2 =*/26).bytes(message.removedUsers[i]);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a Response message from the specified reader or buffer.
         * @function decode
         * @memberof ICD.Response
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {ICD.Response & ICD.Response.$Shape} Response
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Response.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            let end, message, value;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.ICD.Response();
            while (reader.pos < end) {
                let start = reader.pos;
                let tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                let wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.int32())
                            message.result = value;
                        else
                            delete message.result;
                        continue;
                    }
                case 2: {
                        if (wireType !== 2)
                            break;
                        if (!(message.addedUsers && message.addedUsers.length))
                            message.addedUsers = [];
                        message.addedUsers.push(reader.bytes());
                        continue;
                    }
                case 3: {
                        if (wireType !== 2)
                            break;
                        if (!(message.removedUsers && message.removedUsers.length))
                            message.removedUsers = [];
                        message.removedUsers.push(reader.bytes());
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        /**
         * Result enum.
         * @name ICD.Response.Result
         * @enum {number}
         * @property {number} SUCCESS=0 SUCCESS value
         * @property {number} AUTHENTICATION_INVALID=1 AUTHENTICATION_INVALID value
         * @property {number} RATE_LIMIT_EXCEEDED=2 RATE_LIMIT_EXCEEDED value
         * @property {number} REQUEST_DATA_MISSING=3 REQUEST_DATA_MISSING value
         * @property {number} REQUEST_DATA_INVALID=4 REQUEST_DATA_INVALID value
         */
        Response.Result = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "SUCCESS"] = 0;
            values[valuesById[1] = "AUTHENTICATION_INVALID"] = 1;
            values[valuesById[2] = "RATE_LIMIT_EXCEEDED"] = 2;
            values[valuesById[3] = "REQUEST_DATA_MISSING"] = 3;
            values[valuesById[4] = "REQUEST_DATA_INVALID"] = 4;
            return values;
        })();

        return Response;
    })();

    return ICD;
})();

export {
  $root as default
};
